#!/usr/bin/env node
// The `keysign` command for an installed package: runs the TypeScript entry point through tsx.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/index.ts");
