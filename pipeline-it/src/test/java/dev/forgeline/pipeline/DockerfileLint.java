package dev.forgeline.pipeline;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipFile;

/**
 * Our own Dockerfile linter for {@code docker/*.Dockerfile} (no hadolint is packaged by Debian or
 * npm here). It checks the rules docker/README.md lists, hadolint's where they apply (DL3000,
 * DL3003, DL3005, DL3007, DL3009, DL3015, DL3020, DL3025, DL4006) and Forgeline's own: uid 10001,
 * the fast-jar COPY order, the service's port, the liveness HEALTHCHECK, the JVM flags, the image
 * name, and that every COPY source exists in the build context after {@code mvn package}.
 */
final class DockerfileLint {

    static final Set<String> SERVICES = Set.of("gateway", "datagen-service", "trainer-service", "eval-service");
    static final Set<String> CUDA_SERVICES = Set.of("gateway", "trainer-service");
    static final String VERSION = "0.1.0";
    static final String UID = "10001";

    /** One instruction, continuation lines joined and comments dropped. */
    record Instruction(int line, String keyword, String args) {
    }

    private static final Pattern FILE_NAME = Pattern.compile("([a-z-]+?)(-cuda)?\\.Dockerfile");
    private static final Pattern FLAG = Pattern.compile("^--([a-z]+)(?:=(\\S*))?\\s+");

    private final Path root;
    private final List<String> problems = new ArrayList<>();

    private DockerfileLint(Path root) {
        this.root = root;
    }

    /** The problems of {@code docker/<fileName>} with the given text; none when it passes. */
    static List<String> check(Path root, String fileName, String text) {
        DockerfileLint lint = new DockerfileLint(root);
        lint.run(fileName, text);
        return lint.problems;
    }

    static List<Instruction> parse(String text) {
        List<Instruction> out = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        StringBuilder current = null;
        int start = 0;
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].stripTrailing();
            String trimmed = line.strip();
            if (trimmed.startsWith("#") || (current == null && trimmed.isEmpty())) {
                continue; // comments (also inside continuations, as Docker does) and blank lines
            }
            boolean continues = line.endsWith("\\");
            String part = continues ? line.substring(0, line.length() - 1) : line;
            if (current == null) {
                current = new StringBuilder(part.strip());
                start = i + 1;
            } else {
                current.append(' ').append(part.strip());
            }
            if (!continues) {
                String joined = current.toString();
                int space = joined.indexOf(' ');
                String keyword = (space < 0 ? joined : joined.substring(0, space)).toUpperCase(Locale.ROOT);
                String args = space < 0 ? "" : joined.substring(space + 1).strip();
                out.add(new Instruction(start, keyword, args));
                current = null;
            }
        }
        return out;
    }

    private void problem(Instruction at, String message) {
        problems.add((at == null ? "" : "line " + at.line() + ": ") + message);
    }

    private void run(String fileName, String text) {
        Matcher name = FILE_NAME.matcher(fileName);
        if (!name.matches() || !SERVICES.contains(name.group(1))) {
            problem(null, "name is not docker/{service}.Dockerfile or docker/{service}-cuda.Dockerfile");
            return;
        }
        String service = name.group(1);
        boolean cuda = name.group(2) != null;
        if (cuda && !CUDA_SERVICES.contains(service)) {
            problem(null, "no CUDA image is planned for " + service);
        }
        String image = "forgeline/" + service;
        String tag = cuda ? VERSION + "-cuda" : VERSION;

        List<Instruction> all = parse(text);
        if (all.isEmpty() || !all.get(0).keyword().equals("FROM") && !all.get(0).keyword().equals("ARG")) {
            problem(null, "the first instruction must be FROM");
        }

        // stages, and the rules that hold in every stage
        List<String> stageNames = new ArrayList<>();
        int finalStageStart = 0;
        boolean pipefail = false;
        for (int i = 0; i < all.size(); i++) {
            Instruction in = all.get(i);
            switch (in.keyword()) {
                case "FROM" -> {
                    String[] words = in.args().split("\\s+");
                    checkPinned(in, words[0], stageNames);
                    if (words.length == 3 && words[1].equalsIgnoreCase("AS")) {
                        stageNames.add(words[2]);
                    }
                    finalStageStart = i;
                    pipefail = false;
                }
                case "ADD" -> problem(in, "ADD: use COPY (and RUN curl for downloads), never ADD (DL3020)");
                case "SHELL" -> pipefail = in.args().contains("pipefail");
                case "RUN" -> checkRun(in, pipefail);
                case "WORKDIR" -> {
                    if (!in.args().startsWith("/")) {
                        problem(in, "WORKDIR must be absolute (DL3000)");
                    }
                }
                case "COPY" -> {
                    String from = flag(in.args(), "from");
                    if (from != null) {
                        checkPinned(in, from, stageNames);
                    }
                }
                case "CMD", "ENTRYPOINT" -> {
                    if (!in.args().startsWith("[")) {
                        problem(in, in.keyword() + " must use the JSON (exec) form (DL3025)");
                    }
                }
                default -> {
                }
            }
            if (in.args().matches("(?s).*\\blatest\\b.*") && !in.keyword().equals("LABEL")) {
                problem(in, "'latest' is not a pinned version (DL3007)");
            }
        }
        List<Instruction> stage = all.subList(finalStageStart, all.size());

        checkUser(stage);
        int port = checkPort(stage, service);
        checkHealthcheck(stage, port);
        String runJar = checkCopies(stage, service);
        checkJvm(stage, runJar);
        checkEnv(stage);
        checkLabels(stage, image, tag);
        String dockerfile = "docker/" + fileName;
        String build = "docker build -f " + dockerfile + " -t " + image + ":" + tag + " .";
        if (!text.contains(build)) {
            problem(null, "the header does not show its build command: " + build);
        }
        if (cuda) {
            checkCuda(stage, service);
        }
    }

    /** An image reference with a tag other than latest, or a digest; or an earlier stage's name. */
    private void checkPinned(Instruction in, String ref, List<String> stageNames) {
        if (stageNames.contains(ref)) {
            return;
        }
        if (ref.contains("$")) {
            problem(in, "image " + ref + " comes from a build argument: pin it in the Dockerfile");
            return;
        }
        if (ref.contains("@sha256:")) {
            return;
        }
        int slash = ref.lastIndexOf('/');
        int colon = ref.lastIndexOf(':');
        if (colon < slash + 1 || colon == ref.length() - 1) {
            problem(in, "image " + ref + " has no tag: pin one (DL3006)");
        } else if (ref.substring(colon + 1).equals("latest")) {
            problem(in, "image " + ref + " uses latest (DL3007)");
        }
    }

    private void checkRun(Instruction in, boolean pipefail) {
        String cmd = in.args();
        if (cmd.matches("(?s).*\\bsudo\\b.*")) {
            problem(in, "no sudo in RUN (DL3004)");
        }
        if (cmd.matches("(?s).*apt-get\\s+(dist-)?upgrade.*")) {
            problem(in, "no apt-get upgrade (DL3005)");
        }
        if (cmd.matches("(?s).*\\bcd\\s.*")) {
            problem(in, "use WORKDIR or absolute paths, not cd (DL3003)");
        }
        if (cmd.contains("apt-get install")) {
            if (!cmd.contains("--no-install-recommends")) {
                problem(in, "apt-get install without --no-install-recommends (DL3015)");
            }
            if (!cmd.matches("(?s).*apt-get install[^&;]*\\s-y\\b.*")) {
                problem(in, "apt-get install without -y (DL3014)");
            }
            if (!cmd.contains("rm -rf /var/lib/apt/lists")) {
                problem(in, "apt-get install without removing /var/lib/apt/lists in the same RUN (DL3009)");
            }
        }
        if (cmd.matches("(?s).*[^|]\\|[^|].*") && !pipefail) {
            problem(in, "a pipe in RUN needs SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"] (DL4006)");
        }
    }

    private void checkUser(List<Instruction> stage) {
        Instruction user = last(stage, "USER");
        if (user == null) {
            problem(null, "no USER in the final stage: the image would run as root");
            return;
        }
        String[] ids = user.args().split(":");
        if (!ids[0].equals(UID) || ids.length > 1 && !ids[1].equals(UID)) {
            problem(user, "USER must be the numeric " + UID + " (or " + UID + ":" + UID + "), the k8s runAsUser");
        }
        for (Instruction in : stage) {
            if (in.line() > user.line() && in.keyword().equals("RUN")) {
                problem(in, "RUN after USER " + UID + ": do setup as root before it");
            }
        }
    }

    private int checkPort(List<Instruction> stage, String service) {
        Path props = root.resolve(service).resolve("src/main/resources/application.properties");
        int port = -1;
        try (Reader reader = Files.newBufferedReader(props)) {
            Properties p = new Properties();
            p.load(reader);
            port = Integer.parseInt(p.getProperty("quarkus.http.port", "8080").strip());
        } catch (IOException | NumberFormatException e) {
            problem(null, "cannot read quarkus.http.port from " + props + ": " + e);
        }
        List<Instruction> exposes = stage.stream().filter(in -> in.keyword().equals("EXPOSE")).toList();
        if (exposes.size() != 1 || !exposes.get(0).args().equals(String.valueOf(port))
                && !exposes.get(0).args().equals(port + "/tcp")) {
            problem(exposes.isEmpty() ? null : exposes.get(0),
                    "EXPOSE must be exactly " + port + " (quarkus.http.port of " + service + ")");
        }
        return port;
    }

    private void checkHealthcheck(List<Instruction> stage, int port) {
        List<Instruction> checks = stage.stream().filter(in -> in.keyword().equals("HEALTHCHECK")).toList();
        if (checks.size() != 1) {
            problem(null, "the final stage needs exactly one HEALTHCHECK (has " + checks.size() + ")");
            return;
        }
        Instruction hc = checks.get(0);
        String args = hc.args();
        int cmd = args.indexOf("CMD ");
        if (cmd < 0 || args.contains("NONE")) {
            problem(hc, "HEALTHCHECK must run a CMD");
            return;
        }
        String command = args.substring(cmd + 4).strip();
        if (!command.startsWith("[")) {
            problem(hc, "HEALTHCHECK CMD must use the JSON (exec) form");
        }
        if (!command.contains("/q/health/live")) {
            problem(hc, "HEALTHCHECK must probe /q/health/live");
        }
        if (!command.contains("127.0.0.1/" + port) && !command.contains("localhost:" + port)
                && !command.contains("127.0.0.1:" + port)) {
            problem(hc, "HEALTHCHECK must probe the service's port " + port);
        }
        if (!args.contains("--timeout=")) {
            problem(hc, "HEALTHCHECK needs a --timeout");
        }
    }

    /** The fast-jar COPYs in order; returns where quarkus-run.jar lands. */
    private String checkCopies(List<Instruction> stage, String service) {
        String base = service + "/target/quarkus-app/";
        List<String> expected = List.of(base + "lib/", base + "app/", base + "quarkus/", base + "quarkus-run.jar");
        List<String[]> copies = new ArrayList<>();
        for (Instruction in : stage) {
            if (!in.keyword().equals("COPY") || flag(in.args(), "from") != null) {
                continue;
            }
            String[] words = stripFlags(in.args()).split("\\s+");
            if (words.length != 2) {
                problem(in, "COPY one source to one destination: " + in.args());
                continue;
            }
            copies.add(words);
            Path source = root.resolve(words[0]);
            if (!Files.exists(source)) {
                problem(in, "COPY source " + words[0] + " does not exist (run mvn package first)");
            } else if (Files.isDirectory(source) && isEmpty(source)) {
                problem(in, "COPY source " + words[0] + " is empty");
            }
            if (!dockerignoreKeeps(words[0])) {
                problem(in, "COPY source " + words[0] + " is not let through by .dockerignore");
            }
        }
        List<String> sources = copies.stream().map(c -> c[0]).toList();
        if (!sources.equals(expected)) {
            problem(null, "the COPYs from the build context must be, in this order, " + expected + "; found " + sources);
        }
        return copies.isEmpty() ? null : copies.get(copies.size() - 1)[1];
    }

    private void checkJvm(List<Instruction> stage, String runJar) {
        Instruction entry = last(stage, "ENTRYPOINT");
        if (entry == null) {
            problem(null, "no ENTRYPOINT in the final stage");
            return;
        }
        String flags = entry.args() + " " + envValue(stage, "JDK_JAVA_OPTIONS") + " " + envValue(stage, "JAVA_OPTS");
        for (String flag : List.of("-XX:MaxRAMPercentage=", "jdk.incubator.vector", "-Dai.djl.offline=true")) {
            if (!flags.contains(flag)) {
                problem(entry, "JVM flag " + flag + " missing (ENTRYPOINT or ENV JDK_JAVA_OPTIONS)");
            }
        }
        if (!flags.contains("--add-modules")) {
            problem(entry, "JVM flag --add-modules missing");
        }
        if (runJar != null && !entry.args().matches("(?s).*\"-jar\",\\s*\"" + Pattern.quote(runJar) + "\".*")) {
            problem(entry, "ENTRYPOINT must run -jar " + runJar);
        }
    }

    private void checkEnv(List<Instruction> stage) {
        for (String name : List.of("DJL_CACHE_DIR", "ENGINE_CACHE_DIR", "HOME")) {
            String value = envValue(stage, name);
            if (value.isEmpty()) {
                problem(null, "ENV " + name + " missing (DJL needs a writable cache)");
            } else if (!value.startsWith("/tmp/")) {
                problem(null, "ENV " + name + "=" + value + " is not under /tmp (the writable emptyDir in k8s)");
            }
        }
    }

    private void checkLabels(List<Instruction> stage, String image, String tag) {
        String labels = String.join(" ", stage.stream().filter(in -> in.keyword().equals("LABEL"))
                .map(Instruction::args).toList());
        if (!labels.contains("org.opencontainers.image.title=\"" + image + "\"")) {
            problem(null, "LABEL org.opencontainers.image.title=\"" + image + "\" missing");
        }
        if (!labels.contains("org.opencontainers.image.version=\"" + tag + "\"")) {
            problem(null, "LABEL org.opencontainers.image.version=\"" + tag + "\" missing");
        }
    }

    /** The CUDA image's libtorch settings agree with the pytorch-jni jar the app ships. */
    private void checkCuda(List<Instruction> stage, String service) {
        Instruction from = stage.get(0);
        if (!from.args().startsWith("nvidia/cuda:")) {
            problem(from, "a CUDA image builds on nvidia/cuda");
        }
        String flavor = envValue(stage, "PYTORCH_FLAVOR");
        String version = envValue(stage, "PYTORCH_VERSION");
        if (envValue(stage, "PYTORCH_LIBRARY_PATH").isEmpty() || flavor.isEmpty() || version.isEmpty()) {
            problem(null, "ENV PYTORCH_LIBRARY_PATH, PYTORCH_FLAVOR and PYTORCH_VERSION are needed for DJL");
            return;
        }
        boolean guard = stage.stream().anyMatch(in -> in.keyword().equals("RUN") && in.args().contains("pytorch-native-cpu"));
        if (!guard) {
            problem(null, "no RUN refusing an app packaged without -Pcuda (pytorch-native-cpu in lib/)");
        }
        Path libMain = root.resolve(service).resolve("target/quarkus-app/lib/main");
        try (var files = Files.list(libMain)) {
            Path jni = files.filter(p -> p.getFileName().toString().startsWith("ai.djl.pytorch.pytorch-jni-"))
                    .findFirst().orElse(null);
            if (jni == null) {
                problem(null, "no pytorch-jni jar in " + libMain);
                return;
            }
            String jar = jni.getFileName().toString();
            if (!jar.startsWith("ai.djl.pytorch.pytorch-jni-" + version + "-")) {
                problem(null, "PYTORCH_VERSION=" + version + " but the app ships " + jar);
            }
            try (ZipFile zip = new ZipFile(jni.toFile())) {
                String entry = "jnilib/linux-x86_64/" + flavor + "/libdjl_torch.so";
                if (zip.getEntry(entry) == null) {
                    problem(null, "PYTORCH_FLAVOR=" + flavor + " but " + jar + " has no " + entry);
                }
            }
        } catch (IOException e) {
            problem(null, "cannot read " + libMain + ": " + e);
        }
    }

    private boolean dockerignoreKeeps(String source) {
        Path ignore = root.resolve(".dockerignore");
        if (!Files.exists(ignore)) {
            return true;
        }
        try {
            List<String> patterns = Files.readAllLines(ignore).stream().map(String::strip)
                    .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
            boolean kept = true;
            for (String p : patterns) { // the last matching pattern wins, as in Docker
                boolean keep = p.startsWith("!");
                String pat = (keep ? p.substring(1) : p);
                if (pat.equals("*") || pat.equals("**")) {
                    kept = keep;
                } else if (!pat.contains("*") && (source.startsWith(pat) || (pat.endsWith("/")
                        ? source.equals(pat.substring(0, pat.length() - 1)) : source.startsWith(pat + "/")))) {
                    kept = keep;
                }
            }
            return kept;
        } catch (IOException e) {
            problem(null, "cannot read .dockerignore: " + e);
            return false;
        }
    }

    private static String envValue(List<Instruction> stage, String name) {
        String value = "";
        Pattern p = Pattern.compile("(?:^|\\s)" + Pattern.quote(name) + "=(\"[^\"]*\"|\\S*)");
        for (Instruction in : stage) {
            if (in.keyword().equals("ENV")) {
                Matcher m = p.matcher(in.args());
                while (m.find()) {
                    value = m.group(1).replace("\"", "");
                }
            }
        }
        return value;
    }

    private static Instruction last(List<Instruction> stage, String keyword) {
        Instruction found = null;
        for (Instruction in : stage) {
            if (in.keyword().equals(keyword)) {
                found = in;
            }
        }
        return found;
    }

    private static String flag(String args, String name) {
        String rest = args;
        Matcher m;
        while ((m = FLAG.matcher(rest)).find()) {
            if (m.group(1).equals(name)) {
                return m.group(2);
            }
            rest = rest.substring(m.end());
        }
        return null;
    }

    private static String stripFlags(String args) {
        String rest = args;
        Matcher m;
        while ((m = FLAG.matcher(rest)).find()) {
            rest = rest.substring(m.end());
        }
        return rest;
    }

    private static boolean isEmpty(Path dir) {
        try (var s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            return true;
        }
    }
}
