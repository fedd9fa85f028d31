package dev.forgeline.eval;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The harness's mmlu prompt, byte for byte, on the real set. */
class MmluPromptTest {

    @Test
    void fiveShotPromptOfTheFirstHighSchoolGeographyTestItem() {
        McqSet set = McqSet.read(SharedSets.mmlu());
        String subject = "high_school_geography";
        String prompt = MmluPrompt.context(subject, set.dev(subject).subList(0, 5), set.test(subject).get(0));
        String expected = "The following are multiple choice questions (with answers) about high school geography.\n\n"
                + "The rate of natural increase of a population is found by subtracting the\n"
                + "A. crude death rate from the crude birth date.\n"
                + "B. crude birth rate from the crude death rate.\n"
                + "C. doubling time from the crude birth rate.\n"
                + "D. fertility rate from the crude death rate.\n"
                + "Answer: A\n\n"
                + "During the third stage of the demographic transition model, which of the following is true?\n"
                + "A. Birth rates increase and population growth rate is less rapid.\n"
                + "B. Birth rates decline and population growth rate is less rapid.\n"
                + "C. Birth rates increase and population growth rate increases.\n"
                + "D. Birth rates decrease and population growth rate increases.\n"
                + "Answer: B\n\n"
                + "Which of the following statements is NOT accurate regarding the services provided by local governments"
                + " in the United States?\n"
                + "A. Duplication of efforts occurs often.\n"
                + "B. Social problems of the central city spill over into the surrounding residential suburbs.\n"
                + "C. Inefficiency in providing services occurs often.\n"
                + "D. One neighborhood's efforts to reduce pollution are always supported by neighboring communities.\n"
                + "Answer: D\n\n"
                + "The practice of hiring a foreign third-party service provider to run an operation is called\n"
                + "A. outsourcing.\n"
                + "B. offshoring.\n"
                + "C. maquiladoras.\n"
                + "D. locational interdependence.\n"
                + "Answer: B\n\n"
                + "Which one of the following items is an example of nonmaterial culture?\n"
                + "A. Dove soap\n"
                + "B. Dove candy bar\n"
                + "C. Dove symbol\n"
                + "D. A dove (bird)\n"
                + "Answer: C\n\n"
                + "The main factor preventing subsistence economies from advancing economically is the lack of\n"
                + "A. a currency.\n"
                + "B. a well-connected transportation infrastructure.\n"
                + "C. government activity.\n"
                + "D. a banking service.\n"
                + "Answer:";
        assertEquals(expected, prompt);
    }

    @Test
    void zeroShotStripsTheQuestionAndKeepsChoicesAsWritten() {
        McqItem item = new McqItem("abstract_algebra", 0, "  What is 1+1?\n", List.of(" two", "3", "4", "5"), 0);
        assertEquals("The following are multiple choice questions (with answers) about abstract algebra.\n\n"
                + "What is 1+1?\nA.  two\nB. 3\nC. 4\nD. 5\nAnswer:", MmluPrompt.context("abstract_algebra", List.of(), item));
        assertEquals("What is 1+1?\nA.  two\nB. 3\nC. 4\nD. 5\nAnswer: A\n\n", MmluPrompt.shot(item));
        assertEquals(List.of(" A", " B", " C"), MmluPrompt.continuations(3));
        assertEquals("x", MmluPrompt.strip("\u00a0\u2003x\u3000\n"), "Python's str.strip also strips Unicode spaces");
    }
}
