/**
 * Text in and out of a model: {@link dev.forgeline.engine.tokenizer.Tokenizer} (tokenizer.json
 * through DJL's binding of Hugging Face tokenizers, special tokens from tokenizer_config.json),
 * {@link dev.forgeline.engine.tokenizer.StreamDecoder} for streamed generation, and {@link
 * dev.forgeline.engine.tokenizer.ChatTemplate}, which renders a model's Jinja2 chat template
 * with jinjava the way transformers' {@code apply_chat_template} does. Imports DJL tokenizers,
 * jinjava and Jackson; nothing from the other engine packages.
 */
package dev.forgeline.engine.tokenizer;
