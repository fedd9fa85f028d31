/**
 * Supervised fine-tuning and DPO on DJL's PyTorch engine (autograd): the library half of the trainer service.
 *
 * <ul>
 * <li>Data: {@link dev.forgeline.engine.train.ChatDataset} reads chat JSONL (errors carry file:line),
 *     {@link dev.forgeline.engine.train.ChatEncoder} renders with the base model's chat template and
 *     masks everything but assistant replies (found by rendering prefixes), appending EOS where the
 *     template ends no turn; {@link dev.forgeline.engine.train.BatchPlan} shuffles by seed, packs
 *     (block-diagonal attention, positions restart per example) and batches.</li>
 * <li>Model: {@link dev.forgeline.engine.train.TrainingForward} runs the engine's weights and
 *     projections (LoRA included) over a {@link dev.forgeline.engine.train.Batch};
 *     {@link dev.forgeline.engine.train.TrainableSet} prepares lora, full or freeze.</li>
 * <li>Optimisation: {@link dev.forgeline.engine.train.AdamW}, {@link dev.forgeline.engine.train.GradientClipping},
 *     {@link dev.forgeline.engine.train.LrSchedule}; {@link dev.forgeline.engine.train.Trainer} runs the
 *     loop with accumulation, held-out loss, cancellation, and {@link dev.forgeline.engine.train.Checkpoint}s
 *     that resume exactly.</li>
 * <li>Preferences: {@link dev.forgeline.engine.train.PreferenceDataset} reads TRL-shaped pairs,
 *     {@link dev.forgeline.engine.train.PreferenceEncoder} encodes them with the chat template,
 *     {@link dev.forgeline.engine.train.DpoLoss} is the loss the trainer's DPO objective minimises
 *     against the adapters-off reference.</li>
 * <li>Outputs: {@link dev.forgeline.engine.train.ModelExport} (merged HF folder, PEFT adapter, card.json);
 *     {@link dev.forgeline.engine.train.FineTune} does one job from files to files.</li>
 * </ul>
 *
 * May import the engine's config, weights, model and tokenizer packages, DJL and Jackson; nothing from services.
 */
package dev.forgeline.engine.train;
