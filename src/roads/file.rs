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

/// Whether the file at `path` starts with `magic` (is of this version's layout); false
/// when it cannot be read.
pub fn is_current(path: &Path, magic: &[u8; 8]) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == magic)
}

/// The body of the file at `path`, which must start with `magic`; `what` names the kind
/// of file in the error ("roads", "base map").
pub fn read(path: &Path, magic: &[u8; 8], what: &str) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .with_context(|| format!("{}", path.display()))?;
    if !bytes.starts_with(magic) {
        // The same kind of file, another layout: say so, and what to do.
        if let (Some(found), Some(kind)) = (bytes.get(..8), magic.get(..7)) {
            if found.starts_with(kind) {
                bail!(
                    "{}: a {what} file of an older layout ({}; this version reads {}); import the extract again: griddispatch roads import FILE",
                    path.display(),
                    String::from_utf8_lossy(&found[7..]),
                    String::from_utf8_lossy(&magic[7..]),
                );
            }
        }
        bail!(
            "{}: not a {what} file of this version; import the extract again",
            path.display()
        );
    }
    bytes.drain(..magic.len());
    Ok(bytes)
}
