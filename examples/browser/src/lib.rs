//! The Rust half of the live key browser (`index.html`): etcdgw compiled to wasm32, exported
//! to the page's script as a `KeyBrowser` with `connect`, `list`, `put`, `remove` and `watch`.
//! Build and serve it with `scripts/hosts-test.sh serve`, then open the printed address.

use etcdgw::{Client, ConnectOptions, DeleteOptions, EventType, GetOptions, WatchOptions};
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// A connection to etcd, for the page.
#[wasm_bindgen]
pub struct KeyBrowser {
    client: Client,
}

fn js_error(err: etcdgw::Error) -> JsValue {
    JsError::new(&err.to_string()).into()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[wasm_bindgen]
impl KeyBrowser {
    /// Connects to `endpoint` (etcd answers the browser's CORS requests by default), as
    /// `user` if one is given.
    pub async fn connect(
        endpoint: String,
        user: Option<String>,
        password: Option<String>,
    ) -> Result<KeyBrowser, JsError> {
        let options = user
            .filter(|u| !u.is_empty())
            .map(|user| ConnectOptions::new().with_user(user, password.unwrap_or_default()));
        let client = Client::connect([endpoint.as_str()], options)
            .await
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(KeyBrowser { client })
    }

    /// The keys under `prefix`: resolves to JSON `{"revision": "N", "kvs": [{"key", "value",
    /// "modRevision"}]}` (revisions as strings: they are 64-bit).
    pub fn list(&self, prefix: String) -> js_sys::Promise {
        let client = self.client.clone();
        future_to_promise(async move {
            let resp = client
                .get(prefix.as_str(), Some(GetOptions::new().with_prefix()))
                .await
                .map_err(js_error)?;
            let kvs: Vec<_> = resp
                .kvs()
                .iter()
                .map(|kv| {
                    json!({
                        "key": text(kv.key()),
                        "value": text(kv.value()),
                        "modRevision": kv.mod_revision().to_string(),
                    })
                })
                .collect();
            let revision = resp.header().map(|h| h.revision()).unwrap_or_default();
            Ok(JsValue::from_str(
                &json!({ "revision": revision.to_string(), "kvs": kvs }).to_string(),
            ))
        })
    }

    /// Writes `key` = `value`.
    pub fn put(&self, key: String, value: String) -> js_sys::Promise {
        let client = self.client.clone();
        future_to_promise(async move {
            client.put(key, value, None).await.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Deletes `key`.
    pub fn remove(&self, key: String) -> js_sys::Promise {
        let client = self.client.clone();
        future_to_promise(async move {
            client
                .delete(key, Some(DeleteOptions::new()))
                .await
                .map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Watches `prefix` from revision `after` + 1 (the revision `list` answered at, so no
    /// change between the two is missed), calling `on_event` with JSON `{"type": "PUT" |
    /// "DELETE", "key", "value", "modRevision"}` for each event. The promise settles only if
    /// the watch ends (with the error); etcdgw resumes it across dropped connections.
    pub fn watch(
        &self,
        prefix: String,
        after: String,
        on_event: js_sys::Function,
    ) -> js_sys::Promise {
        let client = self.client.clone();
        future_to_promise(async move {
            let after: i64 = after
                .parse()
                .map_err(|_| JsError::new("`after` is not a revision"))?;
            let options = WatchOptions::new()
                .with_prefix()
                .with_start_revision(after + 1);
            let mut stream = client
                .watch(prefix.as_str(), Some(options))
                .await
                .map_err(js_error)?;
            while let Some(resp) = stream.message().await.map_err(js_error)? {
                for event in resp.events() {
                    let Some(kv) = event.kv() else { continue };
                    let kind = match event.event_type() {
                        EventType::Put => "PUT",
                        EventType::Delete => "DELETE",
                    };
                    let event = json!({
                        "type": kind,
                        "key": text(kv.key()),
                        "value": text(kv.value()),
                        "modRevision": kv.mod_revision().to_string(),
                    });
                    on_event.call1(&JsValue::NULL, &JsValue::from_str(&event.to_string()))?;
                }
            }
            Err(JsError::new("the watch ended").into())
        })
    }
}
