//! Embeds the web console and the field app (`web/src`) and the libraries they use (from `web/node_modules`,
//! installed by `npm ci`) into the binary, so one file deploys the API and the console.
//! Writes `$OUT_DIR/console_assets.rs`: a table of (URL path, content type, bytes).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Vendor files served under `/assets/vendor/`: (URL path below it, file below web/).
const VENDOR: &[(&str, &str)] = &[
    ("leaflet/leaflet.js", "node_modules/leaflet/dist/leaflet.js"),
    (
        "leaflet/leaflet.css",
        "node_modules/leaflet/dist/leaflet.css",
    ),
    (
        "leaflet/images/layers.png",
        "node_modules/leaflet/dist/images/layers.png",
    ),
    (
        "leaflet/images/layers-2x.png",
        "node_modules/leaflet/dist/images/layers-2x.png",
    ),
    (
        "leaflet/images/marker-icon.png",
        "node_modules/leaflet/dist/images/marker-icon.png",
    ),
    (
        "leaflet/images/marker-icon-2x.png",
        "node_modules/leaflet/dist/images/marker-icon-2x.png",
    ),
    (
        "leaflet/images/marker-shadow.png",
        "node_modules/leaflet/dist/images/marker-shadow.png",
    ),
    (
        "geoman/leaflet-geoman.js",
        "node_modules/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.js",
    ),
    (
        "geoman/leaflet-geoman.css",
        "node_modules/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css",
    ),
    // The field app's MQTT-over-WebSocket client (a classic script: global `mqtt`).
    ("mqtt/mqtt.min.js", "node_modules/mqtt/dist/mqtt.min.js"),
    // The reports page's charts (a classic script: global `echarts`). The "common" build
    // (line, bar, pie, scatter; legend, tooltip; canvas and SVG) is the smallest with a legend.
    (
        "echarts/echarts.min.js",
        "node_modules/echarts/dist/echarts.common.min.js",
    ),
    // The field app's redemption QR code (an ES module, no dependencies).
    ("uqr/uqr.mjs", "node_modules/uqr/dist/index.mjs"),
    // The API reference at `/api/docs` (a classic script: global `SwaggerUIBundle`).
    (
        "swagger-ui/swagger-ui-bundle.js",
        "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
    ),
    (
        "swagger-ui/swagger-ui.css",
        "node_modules/swagger-ui-dist/swagger-ui.css",
    ),
];

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let web = root.join("web");
    println!("cargo:rerun-if-changed=web/src");
    println!("cargo:rerun-if-changed=web/package-lock.json");
    let missing: Vec<String> = VENDOR
        .iter()
        .map(|(_, f)| web.join(f))
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        panic!(
            "\n\nThe web console's libraries (maps, charts, MQTT) are missing:\n  {}\n\
             They come from npm: run scripts/test (or scripts/run), or `npm ci --prefix web`, \
             then build again.\n\n",
            missing.join("\n  ")
        );
    }
    let mut files = Vec::new();
    walk(&web.join("src"), &mut files);
    files.sort();
    let mut table = String::from("&[\n");
    let mut add = |url: &str, file: &Path| {
        println!("cargo:rerun-if-changed={}", file.display());
        let _ = writeln!(
            table,
            "    ({url:?}, {:?}, include_bytes!({:?})),",
            content_type(url),
            file.display().to_string()
        );
    };
    for f in &files {
        let rel = f
            .strip_prefix(web.join("src"))
            .expect("below web/src")
            .to_string_lossy()
            .replace('\\', "/");
        add(&format!("/assets/app/{rel}"), f);
    }
    for (url, file) in VENDOR {
        add(&format!("/assets/vendor/{url}"), &web.join(file));
    }
    table.push(']');
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("console_assets.rs");
    std::fs::write(&out, table).expect("writing console_assets.rs");
}
