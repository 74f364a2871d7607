// pushlab.js as an ES module, for pages that want named imports:
//
//   import { connect, session } from "/pushlab.mjs";
//   import pushlab from "/pushlab.mjs";
//
// pushlab.js itself is a classic script (so that a plain <script src> works and no build step is
// needed); importing it runs it, and it puts `pushlab` on globalThis. This file re-exports that object.
import "./pushlab.js";

const pushlab = globalThis.pushlab;
export default pushlab;
export const { connect, session, Channel, Session, transports, autoOrder, defaults } = pushlab;
