package dev.forgeline.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class ThreadTeamTest {

    @Test
    void runsEveryPartOncePerTaskAcrossParkedAndSpinningWorkers() throws InterruptedException {
        try (ThreadTeam team = new ThreadTeam(3)) {
            assertEquals(3, team.size());
            AtomicIntegerArray runs = new AtomicIntegerArray(3);
            for (int task = 0; task < 20; task++) {
                team.run(runs::incrementAndGet);
                if (task % 5 == 4) {
                    Thread.sleep(5); // past the 200 us spin: the workers park and must be woken
                }
            }
            assertArrayEquals(new int[] {20, 20, 20}, new int[] {runs.get(0), runs.get(1), runs.get(2)});
        }
    }

    @Test
    void rethrowsAWorkersFailureAndKeepsWorking() {
        try (ThreadTeam team = new ThreadTeam(2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> team.run(p -> {
                if (p == 1) {
                    throw new ArithmeticException("part 1");
                }
            }));
            assertEquals("part 1", e.getCause().getMessage());
            AtomicIntegerArray runs = new AtomicIntegerArray(2);
            team.run(runs::incrementAndGet);
            assertEquals(1, runs.get(1));
        }
    }

    @Test
    void refusesTasksOnceClosed() {
        ThreadTeam team = new ThreadTeam(2);
        team.close();
        assertThrows(IllegalStateException.class, () -> team.run(p -> { }));
    }
}
