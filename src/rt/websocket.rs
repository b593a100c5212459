//! A WebSocket to an endpoint (`transport/websocket.rs` multiplexes watches on it): natively
//! the HTTP client's own connection upgraded (the application's client, headers and proxies
//! apply), on wasm32 the JavaScript host's `WebSocket`.

pub(crate) use reqwest_websocket::{Message, WebSocket};

/// Why a WebSocket did not open.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The connection failed: nothing answered.
    Failed(reqwest::Error),
    /// Something answered, but not with a WebSocket: what it answered (natively; a
    /// JavaScript host's `WebSocket` does not say).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    Refused(String),
    /// It failed without saying why (a JavaScript host's `WebSocket` tells no more).
    Unknown(String),
}

/// Sends `request` (a `GET` with the endpoint's headers) as a WebSocket upgrade, offering
/// `protocols` (`Sec-WebSocket-Protocol`; etcd's gateway reads `Bearer, <token>` there).
pub(crate) async fn open(
    request: reqwest::RequestBuilder,
    protocols: Vec<String>,
) -> Result<WebSocket, OpenError> {
    use reqwest_websocket::Upgrade;
    let opened = async {
        request
            .upgrade()
            .protocols(protocols)
            .send()
            .await?
            .into_websocket()
            .await
    }
    .await;
    opened.map_err(|err| match err {
        reqwest_websocket::Error::Reqwest(e) => OpenError::Failed(e),
        #[cfg(not(target_arch = "wasm32"))]
        reqwest_websocket::Error::Handshake(refusal) => OpenError::Refused(refusal.to_string()),
        other => OpenError::Unknown(other.to_string()),
    })
}
