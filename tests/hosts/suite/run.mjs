// The host suite's runner in Node.js and Deno: tests/hosts/host/js.rs starts one per test
// (`node run.mjs DIR`, `deno run ... run.mjs DIR`, DIR holding the suite built by
// scripts/hosts-test.sh) and talks to it in JSON lines. On stdin:
//   {"id": "run1", "name": "kv", "args": [...]}   start a scenario (the progress callback is added here)
//   {"facts": true}                                 probe this host's timers (see below)
// On stdout: {"ready": true} once the module is loaded, then {"id", "progress"} for each step a
// scenario reports, {"id", "ok": true, "value"} or {"id", "ok": false, "error"} when it ends, and
// {"facts": {...}}. Anything the runtime itself prints (a TimeoutOverflowWarning, say) goes to
// stderr, which the native half reads too.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import process from "node:process";
import { pathToFileURL } from "node:url";

const dir = process.argv[2];
const send = (message) => process.stdout.write(JSON.stringify(message) + "\n");

// Every timer set is counted, with those whose delay a JavaScript timer cannot keep (negative,
// or past 2^31 - 1 ms): a wait without a deadline must set none of its own (issue 29). The
// suite reads globalThis.__timers, as in suite.html.
const realSetTimeout = globalThis.setTimeout;
globalThis.__timers = { set: 0, overflowed: 0 };
globalThis.setTimeout = function (handler, delay, ...rest) {
  globalThis.__timers.set += 1;
  if (!(delay >= 0 && delay <= 2147483647)) globalThis.__timers.overflowed += 1;
  return realSetTimeout(handler, delay, ...rest);
};

// What this host does with the longest delay a timer keeps and the first it cannot keep
// (docs/GATEWAY.md 12). Asked for, not run at start: the second one makes Node.js print a
// TimeoutOverflowWarning, and the suite checks that no scenario does.
function timerFacts() {
  const facts = {};
  let checked = 0;
  for (const [name, delay] of [["2^31-1", 2147483647], ["2^31", 2147483648]]) {
    const timer = realSetTimeout(() => { facts[name] = "fired"; }, delay);
    realSetTimeout(() => {
      if (!(name in facts)) { facts[name] = "pending"; clearTimeout(timer); }
      if (++checked === 2) send({ facts });
    }, 300);
  }
}

const suite = await import(pathToFileURL(`${dir}/etcdgw_host_suite.js`).href);
suite.initSync({ module: readFileSync(`${dir}/etcdgw_host_suite_bg.wasm`) });

const commands = createInterface({ input: process.stdin });
commands.on("close", () => process.exit(0)); // the native half is gone
commands.on("line", (line) => {
  const command = JSON.parse(line);
  if (command.facts) return timerFacts();
  const { id, name, args } = command;
  if (typeof suite[name] !== "function") return send({ id, ok: false, error: `no test named ${name}` });
  suite[name](...args, (step) => send({ id, progress: String(step) })).then(
    (value) => send({ id, ok: true, value }),
    (e) => send({ id, ok: false, error: String((e && e.message) || e) }),
  );
});
send({ ready: true });
