/**
 * The namespace conformance suite, run through the network: the in-process service behind a
 * real gRPC server on a loopback port, reached by MetaClient. Every MetaError code and field
 * must survive the trip unchanged.
 */
import { MetaClient } from "../../../src/meta/grpc/client.js";
import { MetaGrpcServer } from "../../../src/meta/grpc/server.js";
import { describeMetaConformance } from "../conformance.js";
import { inProcessFixture } from "../helpers/fixture.js";

describeMetaConformance("gRPC server + MetaClient", async () => {
  const fx = inProcessFixture();
  const server = await MetaGrpcServer.start({ api: fx.service, listen: "127.0.0.1:0" });
  const client = new MetaClient({ address: server.address, retryBudgetMs: 2_000 });
  return {
    api: client,
    issue: fx.issue,
    close: async () => {
      client.close();
      server.close();
      await fx.close();
    },
  };
});
