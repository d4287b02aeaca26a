async def test_health(client):
    r = await client.get("/healthz")
    assert r.status_code == 200
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["database"] == "ok"


async def test_create_and_list_community(admin, community_payload):
    r = await admin.post("/api/v1/communities", json=community_payload())
    assert r.status_code == 201, r.text
    r = await admin.get("/api/v1/communities")
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 1
