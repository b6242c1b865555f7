//! Embeds every file under `web/` into the binary (one binary runs everything): writes a
//! table of (path, bytes) that `http::pages` serves. The files themselves need no build.
//! Also has the crate rebuilt when a file under `migrations/` is added or changed, which
//! `sqlx::migrate!` embeds but cannot watch by itself on a stable compiler.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    // Read when the script runs, not baked in when it is compiled: a build directory shared
    // by two checkouts would otherwise embed the other checkout's pages.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("web");
    println!("cargo:rerun-if-changed=web");
    assert!(
        root.is_dir(),
        "web/ is missing: the pages are embedded from it ({})",
        root.display()
    );
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let mut table = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let relative = file
            .strip_prefix(&root)
            .expect("under web/")
            .to_string_lossy()
            .replace('\\', "/");
        let _ = writeln!(
            table,
            "    ({relative:?}, include_bytes!({:?})),",
            file.display().to_string()
        );
    }
    table.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("web_assets.rs");
    std::fs::write(out, table).expect("writing the asset table");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, files);
        } else {
            // Hidden files and editors' backups are not part of the site.
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !(name.starts_with('.') || name.starts_with('#') || name.ends_with('~')) {
                files.push(path);
            }
        }
    }
}
