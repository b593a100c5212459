//! JSON Schemas of every wire message this crate sends or receives, generated from the wire
//! types (feature `schema`). `schemas/` holds them committed; `cargo run --example gen_schemas
//! --features schema` writes them again, and a test fails when the two differ.
//!
//! Every object schema forbids properties it does not list, so validating a live server's
//! answer against it catches a field the server sends that our types would drop.

use serde_json::Value;

use crate::wire;

/// The schema of a message the crate sends: what serializing it can produce.
fn sent<T: schemars::JsonSchema>() -> Value {
    finish(
        schemars::generate::SchemaSettings::default().for_serialize(),
        |g| g.into_root_schema_for::<T>(),
    )
}

/// The schema of a message the crate receives: what decoding it accepts.
fn received<T: schemars::JsonSchema>() -> Value {
    finish(
        schemars::generate::SchemaSettings::default().for_deserialize(),
        |g| g.into_root_schema_for::<T>(),
    )
}

fn finish(
    settings: schemars::generate::SchemaSettings,
    generate: impl FnOnce(schemars::SchemaGenerator) -> schemars::Schema,
) -> Value {
    let mut value = generate(settings.into_generator()).to_value();
    forbid_unknown_fields(&mut value);
    value
}

/// Adds `"additionalProperties": false` to every object schema that lists its properties.
fn forbid_unknown_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(forbid_unknown_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(forbid_unknown_fields),
        _ => {}
    }
}

/// Every wire message's schema, by message name (the file name in `schemas/` without `.json`).
pub fn all() -> Vec<(&'static str, Value)> {
    use wire::{kv, watch};
    vec![
        ("RangeRequest", sent::<kv::RangeRequest>()),
        ("RangeResponse", received::<kv::RangeResponse>()),
        ("PutRequest", sent::<kv::PutRequest>()),
        ("PutResponse", received::<kv::PutResponse>()),
        ("DeleteRangeRequest", sent::<kv::DeleteRangeRequest>()),
        ("DeleteRangeResponse", received::<kv::DeleteRangeResponse>()),
        ("TxnRequest", sent::<kv::TxnRequest>()),
        ("TxnResponse", received::<kv::TxnResponse>()),
        ("CompactionRequest", sent::<kv::CompactionRequest>()),
        ("CompactionResponse", received::<kv::CompactionResponse>()),
        ("WatchRequest", sent::<watch::WatchRequest>()),
        ("WatchResponse", received::<watch::WatchResponse>()),
    ]
}

/// The text of a schema as committed: pretty JSON with a final newline.
pub fn to_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixtures;

    #[test]
    fn every_captured_kv_answer_validates_with_unknown_fields_forbidden() {
        let schemas: std::collections::HashMap<_, _> = all().into_iter().collect();
        let kinds = [
            ("/v3/kv/range ", "RangeResponse"),
            ("/v3/kv/put ", "PutResponse"),
            ("/v3/kv/deleterange ", "DeleteRangeResponse"),
            ("/v3/kv/txn ", "TxnResponse"),
            ("/v3/kv/compaction ", "CompactionResponse"),
        ];
        let dir = fixtures::path("");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            for exchange in fixtures::capture(&name) {
                let Some((_, schema)) = kinds
                    .iter()
                    .find(|(path, _)| exchange.request_line.starts_with(&format!("POST {path}")))
                else {
                    continue;
                };
                let Ok(answer) = serde_json::from_slice::<Value>(&exchange.body()) else {
                    continue; // abridged captures of huge answers
                };
                if exchange.status != 200 {
                    continue;
                }
                let validator = jsonschema::validator_for(&schemas[schema]).unwrap();
                let errors: Vec<String> = validator
                    .iter_errors(&answer)
                    .map(|e| e.to_string())
                    .collect();
                assert!(errors.is_empty(), "{name}: {schema}: {errors:?}");
                checked += 1;
            }
        }
        assert!(
            checked >= 40,
            "only {checked} captured KV answers were checked"
        );
    }

    #[test]
    fn every_captured_watch_message_validates_with_unknown_fields_forbidden() {
        let schemas: std::collections::HashMap<_, _> = all().into_iter().collect();
        let validator = jsonschema::validator_for(&schemas["WatchResponse"]).unwrap();
        let mut checked = 0;
        for entry in std::fs::read_dir(fixtures::path("")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            for exchange in fixtures::capture(&name) {
                if !exchange.request_line.starts_with("POST /v3/watch ") || exchange.status != 200 {
                    continue;
                }
                for line in exchange.body().split(|&b| b == b'\n') {
                    if line.windows(14).any(|w| w == b"bytes omitted]") {
                        continue; // abridged in the capture
                    }
                    let Ok(message) = serde_json::from_slice::<Value>(line) else {
                        continue; // abridged captures of huge answers
                    };
                    let Some(result) = message.get("result") else {
                        continue;
                    };
                    let errors: Vec<String> = validator
                        .iter_errors(result)
                        .map(|e| e.to_string())
                        .collect();
                    assert!(errors.is_empty(), "{name}: {errors:?}");
                    checked += 1;
                }
            }
        }
        assert!(
            checked >= 40,
            "only {checked} captured watch messages were checked"
        );
    }
}
