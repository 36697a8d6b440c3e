import { describeMetaConformance } from "./conformance.js";
import { inProcessFixture } from "./helpers/fixture.js";

describeMetaConformance("in-process service", async () => inProcessFixture());
