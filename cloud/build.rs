//! Embeds the ops console (`web/dist`, built by `npm run build` in `cloud/web`) into the
//! farmco-cloud binary: every file as bytes plus a gzip copy made here, listed in
//! `$OUT_DIR/console_assets.rs` for `api::web`. Without a built console (a Rust-only build,
//! no npm) the list is empty and the server answers `/` with a page saying how to build it.
//! `FARMCO_CONSOLE_DIST` points at another dist folder.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Largest file embedded (MapLibre's bundle is ~1 MB; anything much larger is a mistake).
const ASSET_BYTES_MAX: u64 = 8 * 1024 * 1024;

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-env-changed=FARMCO_CONSOLE_DIST");
    let dist = std::env::var("FARMCO_CONSOLE_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest.join("web/dist"));
    let mut code = String::from(
        "/// Files of the built console: (URL path, bytes, gzip bytes).\n\
         pub static ASSETS: &[(&str, &[u8], &[u8])] = &[\n",
    );
    if dist.join("index.html").is_file() {
        println!("cargo:rerun-if-changed={}", dist.display());
        let mut list = Vec::new();
        files(&dist, &mut list)?;
        list.sort();
        for (i, path) in list.iter().enumerate() {
            let len = std::fs::metadata(path)?.len();
            if len > ASSET_BYTES_MAX {
                return Err(format!(
                    "{} is {len} bytes; at most {ASSET_BYTES_MAX}",
                    path.display()
                )
                .into());
            }
            let rel = path
                .strip_prefix(&dist)?
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(path)?;
            let gz_path = out_dir.join(format!("console_asset_{i}.gz"));
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(&bytes)?;
            std::fs::write(&gz_path, encoder.finish()?)?;
            writeln!(
                code,
                "    ({:?}, include_bytes!({:?}), include_bytes!({:?})),",
                format!("/{rel}"),
                path.display().to_string(),
                gz_path.display().to_string()
            )?;
        }
    } else {
        // Rebuild when the console gets built.
        println!("cargo:rerun-if-changed={}", manifest.join("web").display());
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("console_assets.rs"), code)?;
    Ok(())
}
