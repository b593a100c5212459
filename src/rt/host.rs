//! Which host runs this build, found once. Natively it is the operating system. On wasm32 it
//! is a JavaScript host, told apart by its globals: only a browser applies CORS to etcd's
//! answers, so only a browser (or a host not recognised) gets the requests a CORS preflight
//! lets through; Node.js, Deno and Cloudflare's workerd get what a native client sends.

/// The hosts etcdgw tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Host {
    /// A native build: sockets of its own, no CORS.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    Native,
    /// A web page or a browser's worker (a `window`, a `document`, or `importScripts`):
    /// `fetch` applies CORS.
    Browser,
    /// Node.js (`process.versions.node`; Bun says it too): `fetch` is undici's, without CORS.
    NodeJs,
    /// Deno (a `Deno` global): `fetch` without CORS.
    Deno,
    /// Cloudflare's workerd, locally or on Cloudflare (`navigator.userAgent` is
    /// `Cloudflare-Workers`, or a `WebSocketPair` global): `fetch` without CORS.
    Workerd,
    /// A JavaScript host none of the above: taken for a browser (see [`Host::applies_cors`]).
    UnknownJs,
}

impl Host {
    /// Whether this host's `fetch` applies CORS, so that etcd's preflight answer (it allows
    /// only the `accept`, `content-type` and `authorization` headers, docs/GATEWAY.md 12)
    /// decides what a request may carry. A host not recognised is taken for one that does:
    /// a request a preflight lets through works on every host, only without a server deadline
    /// and require-leader, while a request that needs a preflight fails every time where CORS
    /// applies. The cautious side costs a feature; the other side would cost every request.
    pub(crate) const fn applies_cors(self) -> bool {
        matches!(self, Host::Browser | Host::UnknownJs)
    }
}

/// What a JavaScript host's globals say about it: the facts [`classify`] decides on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(not(any(target_arch = "wasm32", test)), allow(dead_code))]
struct Globals {
    /// `Deno` is an object.
    deno: bool,
    /// `navigator.userAgent` is `Cloudflare-Workers`.
    workers_user_agent: bool,
    /// `WebSocketPair` is a function (workerd's own global, there whatever the flags).
    websocket_pair: bool,
    /// `window` or `document` is defined (a page, Electron's renderer, jsdom).
    window_or_document: bool,
    /// `importScripts` is a function (a browser's dedicated, shared or service worker).
    import_scripts: bool,
    /// `process.versions.node` is a string (Node.js, and hosts that pass for it: Bun).
    node: bool,
}

/// Decides the host from its globals. The order matters where hosts share globals: Deno 2
/// has a `process` (Node.js compatibility), workerd a `ServiceWorkerGlobalScope` (but no
/// `importScripts`), and Electron's renderer both a `window` and `process.versions.node`
/// while its `fetch` is Chromium's, with CORS: so Deno and workerd first, then the browser
/// signs, then Node.js.
#[cfg_attr(not(any(target_arch = "wasm32", test)), allow(dead_code))]
fn classify(globals: Globals) -> Host {
    if globals.deno {
        Host::Deno
    } else if globals.workers_user_agent || globals.websocket_pair {
        Host::Workerd
    } else if globals.window_or_document || globals.import_scripts {
        Host::Browser
    } else if globals.node {
        Host::NodeJs
    } else {
        Host::UnknownJs
    }
}

/// The host this build runs on, found the first time it is asked for.
pub(crate) fn host() -> Host {
    #[cfg(not(target_arch = "wasm32"))]
    {
        Host::Native
    }
    #[cfg(target_arch = "wasm32")]
    {
        static HOST: std::sync::OnceLock<Host> = std::sync::OnceLock::new();
        *HOST.get_or_init(|| classify(read_globals()))
    }
}

/// Whether requests must be those a CORS preflight lets through (see [`Host::applies_cors`]).
pub(crate) fn cors_applies() -> bool {
    host().applies_cors()
}

/// Whether watches may share a WebSocket (`transport/websocket.rs`) here: natively always (the
/// upgrade is an HTTP request with every header); on a host with a `WebSocket` of its own (a
/// browser, Node.js, Deno) only when the client has no headers of its own, which that
/// `WebSocket` cannot send; not on workerd, whose outbound WebSockets are made through fetch.
pub(crate) fn websocket_usable(with_headers: bool) -> bool {
    match host() {
        Host::Native => true,
        Host::Browser | Host::NodeJs | Host::Deno => !with_headers,
        Host::Workerd | Host::UnknownJs => false,
    }
}

/// Reads the globals [`classify`] needs, without calling anything the host provides: a
/// property that is missing, or whose getter throws, counts as absent.
#[cfg(target_arch = "wasm32")]
fn read_globals() -> Globals {
    use wasm_bindgen::JsValue;

    fn get(object: &JsValue, name: &str) -> JsValue {
        if !object.is_object() && !object.is_function() {
            return JsValue::UNDEFINED;
        }
        js_sys::Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    }

    let global: JsValue = js_sys::global().into();
    let user_agent = get(&get(&global, "navigator"), "userAgent").as_string();
    Globals {
        deno: get(&global, "Deno").is_object(),
        workers_user_agent: user_agent.as_deref() == Some("Cloudflare-Workers"),
        websocket_pair: get(&global, "WebSocketPair").is_function(),
        window_or_document: !get(&global, "window").is_undefined()
            || !get(&global, "document").is_undefined(),
        import_scripts: get(&global, "importScripts").is_function(),
        node: get(&get(&get(&global, "process"), "versions"), "node").is_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The globals each host has, as measured (docs/GATEWAY.md 12): Chromium's page, Node.js
    // 20, Deno 2.9 (which has `process` too) and workerd (`ServiceWorkerGlobalScope`, but no
    // `importScripts`).
    const PAGE: Globals = Globals {
        window_or_document: true,
        ..NONE
    };
    const NONE: Globals = Globals {
        deno: false,
        workers_user_agent: false,
        websocket_pair: false,
        window_or_document: false,
        import_scripts: false,
        node: false,
    };

    #[test]
    fn each_host_is_told_apart_by_its_globals() {
        assert_eq!(classify(PAGE), Host::Browser);
        let worker = Globals {
            import_scripts: true,
            ..NONE
        };
        assert_eq!(classify(worker), Host::Browser);
        let node = Globals { node: true, ..NONE };
        assert_eq!(classify(node), Host::NodeJs);
        let deno = Globals {
            deno: true,
            node: true,
            ..NONE
        };
        assert_eq!(classify(deno), Host::Deno);
        let workerd = Globals {
            workers_user_agent: true,
            websocket_pair: true,
            ..NONE
        };
        assert_eq!(classify(workerd), Host::Workerd);
        // Without the global_navigator flag, workerd still has its WebSocketPair.
        let workerd_old = Globals {
            websocket_pair: true,
            ..NONE
        };
        assert_eq!(classify(workerd_old), Host::Workerd);
    }

    #[test]
    fn a_window_beside_node_is_a_browser_and_an_unknown_host_is_taken_for_one() {
        // Electron's renderer: Chromium's fetch, with CORS, though Node.js is there too.
        let electron = Globals {
            window_or_document: true,
            node: true,
            ..NONE
        };
        assert_eq!(classify(electron), Host::Browser);
        assert_eq!(classify(NONE), Host::UnknownJs);
        assert!(Host::UnknownJs.applies_cors() && Host::Browser.applies_cors());
        for host in [Host::Native, Host::NodeJs, Host::Deno, Host::Workerd] {
            assert!(!host.applies_cors(), "{host:?}");
        }
    }

    #[test]
    fn a_native_build_is_native() {
        assert_eq!(host(), Host::Native);
        assert!(!cors_applies());
    }
}
