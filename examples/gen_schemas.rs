//! Writes the JSON Schema of every wire message into `schemas/`.
//! `cargo run --example gen_schemas --features schema`

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    std::fs::create_dir_all(&dir)?;
    for (name, schema) in etcdgw::schema::all() {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, etcdgw::schema::to_text(&schema))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
