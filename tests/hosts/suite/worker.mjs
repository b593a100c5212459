// The host suite inside workerd: each scenario runs inside one request, as a Worker's code
// does (a client per request, no task outliving it). tests/hosts/host/workerd.rs starts
// workerd with workerd.capnp and sends:
//   POST /run   {"id": "run1", "name": "kv", "args": [...]}
// The answer is a stream of JSON lines, written while the scenario runs: {"id", "progress"}
// for each step, then {"id", "ok": true, "value"} or {"id", "ok": false, "error"}. The request
// lives as long as its answer streams, and so do the scenario's fetches and timers.
//   GET /facts  what this host does with the longest delay a timer keeps and the first it
//               cannot keep (timers are only allowed inside a request).
import * as suite from "./etcdgw_host_suite.js";
import wasm from "./etcdgw_host_suite_bg.wasm";

// Every timer set is counted, with those whose delay a JavaScript timer cannot keep (negative,
// or past 2^31 - 1 ms): a wait without a deadline must set none of its own (issue 29). One
// workerd runs one test, so the counts are that test's.
const realSetTimeout = globalThis.setTimeout;
globalThis.__timers = { set: 0, overflowed: 0 };
globalThis.setTimeout = function (handler, delay, ...rest) {
  globalThis.__timers.set += 1;
  if (!(delay >= 0 && delay <= 2147483647)) globalThis.__timers.overflowed += 1;
  return realSetTimeout(handler, delay, ...rest);
};

// A Worker cannot compile WebAssembly from bytes: workerd hands the module over compiled.
suite.initSync({ module: wasm });

function timerFacts() {
  return new Promise((resolve) => {
    const facts = {};
    let checked = 0;
    for (const [name, delay] of [["2^31-1", 2147483647], ["2^31", 2147483648]]) {
      const timer = realSetTimeout(() => { facts[name] = "fired"; }, delay);
      realSetTimeout(() => {
        if (!(name in facts)) { facts[name] = "pending"; clearTimeout(timer); }
        if (++checked === 2) resolve(facts);
      }, 300);
    }
  });
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/facts") return Response.json(await timerFacts());
    if (url.pathname !== "/run" || request.method !== "POST") return new Response("not found", { status: 404 });
    const { id, name, args } = await request.json();
    const { readable, writable } = new TransformStream();
    const writer = writable.getWriter();
    const encoder = new TextEncoder();
    const send = (message) => writer.write(encoder.encode(JSON.stringify(message) + "\n"));
    if (typeof suite[name] !== "function") {
      send({ id, ok: false, error: `no test named ${name}` });
      writer.close();
    } else {
      suite[name](...args, (step) => send({ id, progress: String(step) })).then(
        (value) => send({ id, ok: true, value }),
        (e) => send({ id, ok: false, error: String((e && e.message) || e) }),
      ).finally(() => writer.close());
    }
    return new Response(readable, { headers: { "content-type": "application/x-ndjson" } });
  },
};
