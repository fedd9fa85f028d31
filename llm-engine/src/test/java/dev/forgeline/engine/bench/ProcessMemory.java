package dev.forgeline.engine.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's memory as Linux reports it in /proc/self/status, for the benchmarks and the memory probe. */
public final class ProcessMemory {

    private ProcessMemory() {}

    /** Resident set now (VmRSS) in bytes, or -1 where /proc is missing. */
    public static long resident() {
        return field("VmRSS:");
    }

    /** Largest resident set so far (VmHWM) in bytes, or -1 where /proc is missing. */
    public static long peakResident() {
        return field("VmHWM:");
    }

    private static long field(String name) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(name)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) << 10; // kB
                }
            }
        } catch (IOException e) {
            // not Linux
        }
        return -1;
    }
}
