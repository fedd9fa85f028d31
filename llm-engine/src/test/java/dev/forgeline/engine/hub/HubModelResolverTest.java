package dev.forgeline.engine.hub;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

class HubModelResolverTest {

    private static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    @TempDir
    Path home;
    private FakeHub hub;
    private byte[] weights;

    @BeforeEach
    void startHub() throws IOException {
        hub = new FakeHub();
        weights = new byte[300_000];
        new Random(42).nextBytes(weights);
    }

    @AfterEach
    void stopHub() {
        hub.close();
    }

    private FakeHub.Repo tinyRepo(String id) {
        return hub.repo(id, COMMIT)
                .file("config.json", "{\"model_type\": \"llama\", \"hidden_size\": 8}")
                .file("generation_config.json", "{\"eos_token_id\": 2}")
                .file("tokenizer.json", "{\"version\": \"1.0\"}")
                .file("tokenizer_config.json", "{\"bos_token\": \"<s>\"}")
                .lfsFile("model.safetensors", weights);
    }

    private HubModelResolver resolver(Map<String, String> extra) {
        Map<String, String> env = new HashMap<>(Map.of(
                "HF_HOME", home.toString(),
                "HF_ENDPOINT", hub.endpoint().toString()));
        env.putAll(extra);
        return new HubModelResolver(HubSettings.fromEnvironment(env));
    }

    private Path repoDir(String folder) {
        return home.resolve("hub").resolve(folder);
    }

    @Test
    void firstDownloadFillsTheCacheInHuggingFaceLayoutAndTheSecondIsLocal() throws IOException {
        tinyRepo("acme/tiny");
        HubModelResolver resolver = resolver(Map.of());

        Path snapshot = resolver.resolve("acme/tiny");

        Path repo = repoDir("models--acme--tiny");
        assertEquals(repo.resolve("snapshots").resolve(COMMIT), snapshot);
        assertEquals(COMMIT, Files.readString(repo.resolve("refs/main")));
        Path weightsFile = snapshot.resolve("model.safetensors");
        assertTrue(Files.isSymbolicLink(weightsFile));
        assertEquals(repo.resolve("blobs").resolve(FakeHub.sha256(weights)), weightsFile.toRealPath());
        assertArrayEquals(weights, Files.readAllBytes(weightsFile));
        byte[] config = Files.readAllBytes(snapshot.resolve("config.json"));
        assertEquals(repo.resolve("blobs").resolve(FakeHub.gitSha1(config)), snapshot.resolve("config.json").toRealPath());
        assertTrue(Files.exists(snapshot.resolve("generation_config.json")));
        assertTrue(Files.exists(repo.resolve(".no_exist").resolve(COMMIT).resolve("special_tokens_map.json")));
        try (var blobs = Files.list(repo.resolve("blobs"))) {
            assertFalse(blobs.anyMatch(p -> p.toString().endsWith(".incomplete")));
        }
        // the LFS bytes came from the CDN, located by the redirect
        assertEquals(1, hub.requestsTo("/cdn/").size());

        int requests = hub.requests.size();
        assertEquals(snapshot, resolver.resolve("acme/tiny"));
        assertEquals(snapshot, resolver(Map.of()).resolve("acme/tiny@main"));
        assertEquals(requests, hub.requests.size(), "a cached model must not touch the server");
    }

    @Test
    void resumesAPartialDownloadWithARangeRequest() throws IOException {
        tinyRepo("acme/tiny");
        Path blobs = repoDir("models--acme--tiny").resolve("blobs");
        Files.createDirectories(blobs);
        int half = weights.length / 2;
        Files.write(blobs.resolve(FakeHub.sha256(weights) + ".incomplete"), java.util.Arrays.copyOf(weights, half));

        Path snapshot = resolver(Map.of()).resolve("acme/tiny");

        assertTrue(hub.requestsTo("/cdn/").stream().anyMatch(r -> ("bytes=" + half + "-").equals(r.range())),
                "expected a Range request from byte " + half + ": " + hub.requestsTo("/cdn/"));
        assertArrayEquals(weights, Files.readAllBytes(snapshot.resolve("model.safetensors")));
        assertFalse(Files.exists(blobs.resolve(FakeHub.sha256(weights) + ".incomplete")));
    }

    @Test
    void partialFileThatIsNotAPrefixIsCaughtByTheChecksum() throws IOException {
        tinyRepo("acme/tiny");
        Path blobs = repoDir("models--acme--tiny").resolve("blobs");
        Files.createDirectories(blobs);
        Path incomplete = blobs.resolve(FakeHub.sha256(weights) + ".incomplete");
        Files.write(incomplete, new byte[1000]); // zeros: wrong bytes

        HubException e = assertThrows(HubException.class, () -> resolver(Map.of()).resolve("acme/tiny"));
        assertEquals(HubException.Reason.CORRUPT, e.reason());
        assertFalse(Files.exists(incomplete), "the bad partial file is removed so that a retry starts over");
        assertArrayEquals(weights, Files.readAllBytes(resolver(Map.of()).resolve("acme/tiny").resolve("model.safetensors")));
    }

    @Test
    void gatedModelWithTokenSendsItAsBearer() throws IOException {
        tinyRepo("meta/gated").gated("hf_secret");

        Path snapshot = resolver(Map.of("HF_TOKEN", "hf_secret")).resolve("meta/gated");

        assertTrue(Files.exists(snapshot.resolve("model.safetensors")));
        assertFalse(hub.requestsTo("/resolve/").isEmpty());
        for (FakeHub.Request r : hub.requestsTo("/resolve/")) {
            assertEquals("Bearer hf_secret", r.authorization(), r.toString());
        }
    }

    @Test
    void gatedModelWithoutTokenFailsWithAdvice() {
        tinyRepo("meta/gated").gated("hf_secret");

        HubException e = assertThrows(HubException.class, () -> resolver(Map.of()).resolve("meta/gated"));

        assertEquals(HubException.Reason.ACCESS_DENIED, e.reason());
        assertTrue(e.getMessage().contains("HTTP 401"), e.getMessage());
        assertTrue(e.getMessage().contains("gated"), e.getMessage());
        assertTrue(e.getMessage().contains("set HF_TOKEN"), e.getMessage());
        assertTrue(e.getMessage().contains("no HF_TOKEN is set"), e.getMessage());

        HubException refused = assertThrows(HubException.class,
                () -> resolver(Map.of("HF_TOKEN", "hf_wrong")).resolve("meta/gated"));
        assertTrue(refused.getMessage().contains("refused"), refused.getMessage());
        assertFalse(refused.getMessage().contains("hf_wrong"), "never print the token");
    }

    @Test
    void offlineServesTheCacheWithTheServerStopped() throws IOException {
        tinyRepo("acme/tiny");
        Path snapshot = resolver(Map.of()).resolve("acme/tiny");
        hub.close();

        assertEquals(snapshot, resolver(Map.of("HF_HUB_OFFLINE", "1")).resolve("acme/tiny"));
        assertEquals(snapshot, resolver(Map.of("HF_HUB_OFFLINE", "1")).resolve("acme/tiny@" + COMMIT));
    }

    @Test
    void offlineWithoutCacheFailsClearlyAndConnectsNowhere() {
        tinyRepo("acme/tiny");

        HubException e = assertThrows(HubException.class,
                () -> resolver(Map.of("HF_HUB_OFFLINE", "true")).resolve("acme/tiny"));

        assertEquals(HubException.Reason.NOT_CACHED, e.reason());
        assertTrue(e.getMessage().contains("HF_HUB_OFFLINE"), e.getMessage());
        assertTrue(e.getMessage().contains("acme/tiny"), e.getMessage());
        assertTrue(hub.requests.isEmpty());
    }

    @Test
    void shardedWeightsFetchEveryShardOfTheIndex() throws IOException {
        byte[] shard1 = new byte[50_000];
        byte[] shard2 = new byte[70_000];
        new Random(1).nextBytes(shard1);
        new Random(2).nextBytes(shard2);
        hub.repo("acme/big", COMMIT)
                .file("config.json", "{}")
                .file("tokenizer.json", "{}")
                .file("tokenizer_config.json", "{}")
                .file("special_tokens_map.json", "{}")
                .file("model.safetensors.index.json", """
                        {"metadata": {"total_size": 120000}, "weight_map": {
                          "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                          "model.layers.0.mlp.up_proj.weight": "model-00001-of-00002.safetensors",
                          "model.norm.weight": "model-00002-of-00002.safetensors"}}""")
                .lfsFile("model-00001-of-00002.safetensors", shard1)
                .lfsFile("model-00002-of-00002.safetensors", shard2);

        Path snapshot = resolver(Map.of()).resolve("acme/big");

        assertArrayEquals(shard1, Files.readAllBytes(snapshot.resolve("model-00001-of-00002.safetensors")));
        assertArrayEquals(shard2, Files.readAllBytes(snapshot.resolve("model-00002-of-00002.safetensors")));
        assertTrue(Files.exists(snapshot.resolve("special_tokens_map.json")));
        assertFalse(Files.exists(snapshot.resolve("model.safetensors")));
        assertEquals(2, hub.requestsTo("/cdn/").size());
        int requests = hub.requests.size();
        resolver(Map.of()).resolve("acme/big");
        assertEquals(requests, hub.requests.size());
    }

    @Test
    void missingModelFileOrRevisionIsNotFound() {
        tinyRepo("acme/tiny");
        hub.repo("acme/notokenizer", COMMIT).file("config.json", "{}");

        HubException noRepo = assertThrows(HubException.class, () -> resolver(Map.of()).resolve("acme/nothing"));
        assertEquals(HubException.Reason.NOT_FOUND, noRepo.reason());
        assertTrue(noRepo.getMessage().contains("no model acme/nothing"), noRepo.getMessage());

        HubException noFile = assertThrows(HubException.class, () -> resolver(Map.of()).resolve("acme/notokenizer"));
        assertEquals(HubException.Reason.NOT_FOUND, noFile.reason());
        assertTrue(noFile.getMessage().contains("tokenizer.json not found"), noFile.getMessage());

        HubException noRevision = assertThrows(HubException.class, () -> resolver(Map.of()).resolve("acme/tiny@v9"));
        assertTrue(noRevision.getMessage().contains("no revision 'v9'"), noRevision.getMessage());
    }

    @Test
    void localFoldersAreUsedAsTheyAre(@TempDir Path model) throws IOException {
        assertEquals(model, resolver(Map.of()).resolve(model.toString()));
        assertTrue(hub.requests.isEmpty());
        HubException e = assertThrows(HubException.class, () -> resolver(Map.of()).resolve("not a model!"));
        assertTrue(e.getMessage().contains("neither a local folder nor"), e.getMessage());
    }

    @Test
    void settingsComeFromTheGivenEnvironment(@TempDir Path dir) throws IOException {
        HubSettings defaults = HubSettings.fromEnvironment(Map.of("HF_HOME", dir.toString()));
        assertEquals(dir.resolve("hub"), defaults.cacheDir());
        assertEquals(HubSettings.DEFAULT_ENDPOINT, defaults.endpoint());
        assertEquals(Optional.empty(), defaults.token());
        assertFalse(defaults.offline());

        Files.writeString(dir.resolve("token"), "hf_from_file\n");
        HubSettings custom = HubSettings.fromEnvironment(Map.of(
                "HF_HOME", dir.toString(),
                "HF_HUB_CACHE", dir.resolve("elsewhere").toString(),
                "HF_ENDPOINT", "http://127.0.0.1:1/",
                "HF_HUB_OFFLINE", "YES"));
        assertEquals(dir.resolve("elsewhere"), custom.cacheDir());
        assertEquals("http://127.0.0.1:1", custom.endpoint().toString());
        assertEquals(Optional.of("hf_from_file"), custom.token());
        assertTrue(custom.offline());
        assertFalse(custom.toString().contains("hf_from_file"));

        assertEquals(Optional.of("hf_env"), HubSettings.fromEnvironment(Map.of(
                "HF_HOME", dir.toString(), "HF_TOKEN", "hf_env")).token());
    }

    @Test
    void hubIdsParse() {
        assertEquals(Optional.of(new HubModelId("org/name", "main")), HubModelId.parse("org/name"));
        assertEquals(Optional.of(new HubModelId("Qwen/Qwen2.5-0.5B-Instruct", "v1.0")),
                HubModelId.parse("Qwen/Qwen2.5-0.5B-Instruct@v1.0"));
        assertTrue(HubModelId.parse("org/name@" + COMMIT).orElseThrow().pinnedToCommit());
        assertEquals(Optional.empty(), HubModelId.parse("just-a-name"));
        assertEquals(Optional.empty(), HubModelId.parse("../../etc"));
        assertEquals(Optional.empty(), HubModelId.parse("a/b/c"));
        assertEquals("models--org--name", HubModelId.parse("org/name").orElseThrow().cacheFolderName());
    }
}
