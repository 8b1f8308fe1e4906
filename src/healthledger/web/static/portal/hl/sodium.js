// libsodium (vendored from npm, see web/vendor.json), ready to use: `import { sodium } from ...`.
import sodiumModule from "libsodium-wrappers-sumo";

await sodiumModule.ready;
export const sodium = sodiumModule;
