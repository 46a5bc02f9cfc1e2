#!/usr/bin/env node
// printmq runs from its TypeScript sources: tsx compiles each module on first load
// (cached), so there is no build step between `npm install` and `npx printmq`.
import { register } from 'tsx/esm/api'

register()
await import('../cli/printmq.ts')
