import { chaosCase } from './chaos-case.js';

// A lease long enough for claims made ahead (docs/ledger-protocol.md): this reading runs them under every fault.
chaosCase('new-task', { leaseSeconds: 17 });
