// The fixed files of an exported cluster job: train.py (PEFT + Transformers' Trainer, run
// by `accelerate launch`), the accelerate configs (FSDP, DeepSpeed ZeRO-3), pinned
// requirements and the README. job-export.ts writes them next to the dataset and settings.

export const TRAIN_PY = `"""Homecoder's fine-tune on a GPU cluster: the same LoRA, data and schedule as the run.

accelerate launch --config_file accelerate/fsdp.yaml train.py --model BASE --out adapter
Reads settings.json (the run's settings) and dataset/train.jsonl (token ids and loss masks
exactly as Homecoder built them); writes a PEFT adapter that Homecoder imports back.
"""
import argparse
import json
import os

import torch
from peft import LoraConfig, get_peft_model
from torch.utils.data import Dataset
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments, set_seed

HERE = os.path.dirname(os.path.abspath(__file__))


class PackedBlocks(Dataset):
    """One example per packed block: labels are the ids where the mask is 1, else -100."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.rows = [json.loads(line) for line in f if line.strip()]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        row = self.rows[i]
        ids = torch.tensor(row["input_ids"], dtype=torch.long)
        mask = torch.tensor(row["loss_mask"], dtype=torch.bool)
        labels = torch.where(mask, ids, torch.full_like(ids, -100))
        return {"input_ids": ids, "labels": labels, "attention_mask": torch.ones_like(ids)}


def collate(batch):
    # Blocks are seq_len long except the last; pad it (padding is never a target).
    n = max(len(b["input_ids"]) for b in batch)
    out = {}
    for key, fill in (("input_ids", 0), ("labels", -100), ("attention_mask", 0)):
        out[key] = torch.stack(
            [torch.cat([b[key], torch.full((n - len(b[key]),), fill, dtype=torch.long)]) for b in batch]
        )
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="base model: hub id or folder (the run's base)")
    p.add_argument("--out", default="adapter")
    p.add_argument("--settings", default=os.path.join(HERE, "settings.json"))
    p.add_argument("--data", default=os.path.join(HERE, "dataset"))
    args = p.parse_args()
    with open(args.settings, encoding="utf-8") as f:
        job = json.load(f)
    s = job["settings"]
    set_seed(s["seed"])
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if s["batchSize"] % world:
        raise SystemExit(f"batch size {s['batchSize']} is not a multiple of {world} processes")
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.bfloat16)
    lora = LoraConfig(
        r=s["loraR"],
        lora_alpha=s["loraAlpha"],
        lora_dropout=s["loraDropout"],
        target_modules=s["targets"],
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    train = PackedBlocks(os.path.join(args.data, "train.jsonl"))
    test_path = os.path.join(args.data, "test.jsonl")
    test = PackedBlocks(test_path) if os.path.exists(test_path) and os.path.getsize(test_path) else None
    decay = s["decaySteps"] or job["steps"]
    targs = TrainingArguments(
        output_dir=os.path.join(args.out, "checkpoints"),
        max_steps=job["steps"],
        per_device_train_batch_size=1,
        gradient_accumulation_steps=s["batchSize"] // world,
        learning_rate=s["lr"],
        warmup_steps=s["warmupSteps"],
        lr_scheduler_type="cosine" if s["schedule"] == "cosine" else "linear",
        weight_decay=s["weightDecay"],
        max_grad_norm=s["maxGradNorm"],
        adam_beta1=0.9,
        adam_beta2=0.999,
        seed=s["seed"],
        data_seed=s["seed"],
        bf16=True,
        logging_steps=10,
        eval_strategy="steps" if test else "no",
        eval_steps=s["evalEvery"] if test else None,
        save_steps=s["checkpointEvery"],
        save_total_limit=3,
        report_to=[],
        remove_unused_columns=False,
        gradient_checkpointing=bool(s.get("lowMemory")),
    )
    if decay != job["steps"]:
        print(f"note: Homecoder decays over {decay} steps; the Trainer's schedule decays over all {job['steps']}")
    trainer = Trainer(model=model, args=targs, train_dataset=train, eval_dataset=test, data_collator=collate)
    trainer.train()
    if trainer.is_world_process_zero():
        model.save_pretrained(args.out)
        print(f"adapter written to {args.out}: homecoder serve --model BASE --adapter {args.out}")


if __name__ == "__main__":
    main()
`;

export const FSDP_YAML = `compute_environment: LOCAL_MACHINE
distributed_type: FSDP
mixed_precision: bf16
num_machines: 1
num_processes: 8
machine_rank: 0
main_training_function: main
fsdp_config:
  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP
  fsdp_backward_prefetch: BACKWARD_PRE
  fsdp_cpu_ram_efficient_loading: true
  fsdp_forward_prefetch: false
  fsdp_offload_params: false
  fsdp_sharding_strategy: FULL_SHARD
  fsdp_state_dict_type: SHARDED_STATE_DICT
  fsdp_sync_module_states: true
  fsdp_use_orig_params: true
`;

export const DEEPSPEED_YAML = `compute_environment: LOCAL_MACHINE
distributed_type: DEEPSPEED
mixed_precision: bf16
num_machines: 1
num_processes: 8
machine_rank: 0
deepspeed_config:
  zero_stage: 3
  offload_optimizer_device: none
  offload_param_device: none
  zero3_init_flag: true
  zero3_save_16bit_model: true
  gradient_accumulation_steps: auto
  gradient_clipping: auto
`;

export const REQUIREMENTS = `torch==2.5.1
transformers==4.46.3
peft==0.13.2
accelerate==1.1.1
deepspeed==0.15.4
safetensors==0.4.5
`;

export function jobReadme(o: { base: string; runId: string; steps: number; batchSize: number; train: number; test: number }): string {
  return `# Homecoder run ${o.runId} as a cluster job

The same LoRA fine-tune as the run, with Hugging Face PEFT + Transformers on \`accelerate\`:
the dataset exactly as Homecoder built it (\`dataset/train.jsonl\`, ${o.train} blocks, and
\`dataset/test.jsonl\`, ${o.test} blocks: \`input_ids\` and \`loss_mask\`, 1 where a token is
trained on), the tokenizer, and the run's settings (\`settings.json\`: LoRA targets, r, α,
dropout, learning rate and schedule, warmup, ${o.steps} steps, batch ${o.batchSize} = gradient
accumulation × processes, seed).

\`\`\`sh
pip install -r requirements.txt
# one node, 8 GPUs (FSDP; set num_processes in the yaml to your GPU count; the batch size
# must be a multiple of it)
accelerate launch --config_file accelerate/fsdp.yaml train.py --model ${o.base} --out adapter
# or DeepSpeed ZeRO-3
accelerate launch --config_file accelerate/deepspeed-zero3.yaml train.py --model ${o.base} --out adapter
# several nodes: run on each node, with its rank
accelerate launch --config_file accelerate/fsdp.yaml --num_machines 2 --num_processes 16 \\
  --machine_rank $RANK --main_process_ip $MASTER_ADDR --main_process_port 29500 \\
  train.py --model ${o.base} --out adapter
\`\`\`

The adapter in \`adapter/\` (adapter_config.json + adapter_model.safetensors) loads back in
Homecoder: \`homecoder serve --model BASE --adapter adapter\`, or import it on the Use page.
`;
}
