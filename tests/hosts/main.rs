//! The host suite: etcdgw compiled to wasm32 and run on each JavaScript host it targets,
//! against real etcd members on loopback: headless Chromium (a page from another origin, so
//! every request is a CORS request), Node.js, Deno, and workerd (Cloudflare Workers' runtime,
//! each scenario inside one request).
//!
//! Every scenario has two halves. The wasm32 half is an exported function of the suite crate
//! (`tests/hosts/suite`, one build for every host); the native half (`scenarios.rs`) starts a
//! member, starts the wasm32 half on a fresh host ([`host::Host`]), acts from outside when the
//! host reports a step (`etcdctl` writes, a member restart, a check of a lock) and checks the
//! answer. [`every_scenario!`] lists the scenarios once and every host module runs them all,
//! so a scenario added there runs everywhere: `chromium::kv`, `node::kv`, `deno::kv`,
//! `workerd::kv`. A host's own tests sit beside (the example page in Chromium, the Worker
//! example in workerd).
//!
//! `scripts/hosts-test.sh` builds the wasm32 halves, installs the hosts and runs this target
//! (from `scripts/test.sh`): Chromium on every etcd of the matrix, the others on etcd 3.4 and
//! 3.6.

mod examples;
mod host;
mod scenarios;
mod serve;

/// The scenarios every host runs, each a test named after it in the host's module.
macro_rules! every_scenario {
    ($kind:expr) => {
        every_scenario!(@tests $kind;
            kv_put_get_prefix_txn_delete,
            watch_delivers_etcdctl_writes_across_a_member_restart,
            cancelled_and_dropped_watches_close_their_fetches,
            twenty_watches_and_gets_on_one_client_all_answer,
            twenty_watches_on_shared_requests_and_gets_all_answer,
            a_managed_lease_stays_alive_across_several_ttls,
            auth_token_fetched_then_refreshed_refusals_typed,
            errors_are_typed,
            lock_seen_from_outside_then_election,
            long_waits_set_few_timers_and_keep_their_deadline,
            a_blocking_call_tells_the_server_its_deadline_unless_cors_applies,
        );
    };
    (@tests $kind:expr; $($scenario:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $scenario() {
                crate::scenarios::$scenario($kind).await;
            }
        )*
    };
}

/// Headless Chromium through ChromeDriver.
mod chromium {
    every_scenario!(crate::host::Kind::Chromium);

    #[tokio::test]
    async fn example_key_browser_follows_outside_writes() {
        crate::examples::key_browser_follows_outside_writes().await;
    }
}

/// The machine's Node.js.
mod node {
    every_scenario!(crate::host::Kind::Node);
}

/// Deno.
mod deno {
    every_scenario!(crate::host::Kind::Deno);
}

/// workerd: each scenario inside one request of a Worker.
mod workerd {
    every_scenario!(crate::host::Kind::Workerd);

    #[tokio::test]
    async fn example_worker_answers_its_api() {
        crate::examples::worker_answers_its_api().await;
    }
}
