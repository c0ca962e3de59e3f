/** `npm run bench`: every benchmark, figures printed as Markdown tables. Nothing here is asserted. */
import os from "node:os";
import { runHkpGet } from "./hkp-get.ts";
import { runHttpLoad } from "./http-load.ts";
import { runIntakeWorst } from "./intake-worst.ts";
import { runKeyIntake } from "./key-intake.ts";
import { runLoginTiming } from "./login-timing.ts";
import { runModules } from "./modules.ts";
import { runSigning } from "./signing.ts";
import { runStaticExport } from "./static-export.ts";

const only = process.argv[2];
console.log(`# Keysign benchmarks\n\nNode ${process.version}, ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model ?? "unknown"}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`);
if (!only || only === "intake") await runKeyIntake();
if (!only || only === "intake-worst") await runIntakeWorst(process.argv.slice(3));
if (!only || only === "login") await runLoginTiming();
if (!only || only === "http") await runHttpLoad();
if (!only || only === "signing") await runSigning();
if (!only || only === "hkp") await runHkpGet();
if (!only || only === "export") await runStaticExport(process.argv.slice(3));
if (!only || only === "modules") await runModules();
