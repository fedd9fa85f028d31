/**
 * Base models named by a Hugging Face Hub id ({@code org/name[@revision]}): {@link
 * dev.forgeline.engine.hub.HubModelResolver} downloads a model's files once into the shared
 * Hugging Face cache layout and serves them from there, offline included. Reads the same
 * environment variables as huggingface_hub (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN,
 * HF_HUB_OFFLINE) through {@link dev.forgeline.engine.hub.HubSettings}. Imports only the JDK,
 * Jackson and SLF4J.
 */
package dev.forgeline.engine.hub;
