//! The files an import writes under the data directory (`roads.bin`, `basemap.bin`): eight
//! bytes naming the kind and its layout's version, then the postcard body; written through
//! a temporary file beside it, so a crash leaves the old file whole.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{bail, Context};

/// Writes `magic` and `body` to `path`, through `<path>.tmp` renamed over it.
pub fn write(path: &Path, magic: &[u8; 8], body: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("{}", tmp.display()))?;
    f.write_all(magic)?;
    f.write_all(body)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}", path.display()))?;
    Ok(())
}

/// The body of the file at `path`, which must start with `magic`; `what` names the kind
/// of file in the error ("roads", "base map").
pub fn read(path: &Path, magic: &[u8; 8], what: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("{}", path.display()))?;
    if !bytes.starts_with(magic) {
        bail!(
            "{}: not a {what} file of this version; import the extract again",
            path.display()
        );
    }
    bytes.drain(..magic.len());
    Ok(bytes)
}
