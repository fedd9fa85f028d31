package dev.forgeline.datagen.teacher;

/** A chat completion from the teacher: its text and the tokens it cost. */
public record TeacherReply(String text, long promptTokens, long completionTokens) {}
