/** The public entry of fleet/: what other parts (loadgen) may use. */
export { waitForFleet } from './fleet-barrier.js';
export { writeAppStates, type DesiredAppState } from './state-writer.js';
