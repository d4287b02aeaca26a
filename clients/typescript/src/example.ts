// How a frontend uses the client: log in, create a village, page through communities,
// update with If-Match, show the API's own (Indonesian) problem text, read an export.
import { BerdayaClient, ProblemError, type CommunityCreate } from "./client.js";

export async function example(baseUrl: string, email: string, password: string): Promise<void> {
  const api = new BerdayaClient(baseUrl, { language: "id" });
  await api.login(email, password);

  const village: CommunityCreate = {
    name: "Desa Sukamaju",
    kind: "desa",
    region_code: "32.04.12.2001",
    population: 4210,
    households: 1180,
    potentials: ["kopi arabika", "bambu"],
  };
  const created = await api.createCommunity(village, crypto.randomUUID());
  console.log(`dibuat: ${created.data.name} (${created.data.id})`);

  for await (const community of api.communities({ region_code: "32.04", sort: "name", limit: 100 })) {
    console.log(community.region_code, community.name, community.population ?? "-");
  }

  if (created.etag) {
    const updated = await api.updateCommunity(created.data.id, { households: 1195 }, created.etag);
    console.log(`KK: ${updated.data.households ?? "-"}`);
  }

  try {
    await api.request("get", "/api/v1/communities/{community_id}", {
      path: { community_id: "00000000-0000-4000-8000-000000000000" },
    });
  } catch (error) {
    if (!(error instanceof ProblemError)) throw error;
    console.log(error.status, error.problem.title, error.problem.detail ?? "");
  }

  const { data: me } = await api.request("get", "/api/v1/auth/me");
  console.log(`masuk sebagai ${me.email} (${me.role})`);

  let rows = 0;
  for await (const row of api.exportRows("communities")) {
    rows += 1;
    if (rows === 1) console.log(Object.keys(row).join(", "));
  }
  console.log(`${rows} baris ekspor`);
}
