import { hostname } from 'node:os';

/** This process as the owner of its calls (the session store's `owner`, the lease's holder): host and pid. */
export const defaultInstanceId = `${hostname()}:${process.pid}`;
