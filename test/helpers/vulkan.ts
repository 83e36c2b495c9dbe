// Chooses the software Vulkan driver Dawn runs on in tests: Mesa's lavapipe when
// installed (fast, has shader-f16), else the SwiftShader that Debian's chromium ships.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface VulkanChoice {
  ok: boolean;
  driver?: 'lavapipe' | 'swiftshader' | 'system';
  icd?: string;
  reason?: string;
}

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

function findLavapipe(): string | undefined {
  const dir = '/usr/share/vulkan/icd.d';
  if (!existsSync(dir)) return undefined;
  const name = readdirSync(dir).find((f) => /^lvp_icd.*\.json$/.test(f));
  return name ? join(dir, name) : undefined;
}

/** Sets VK_ICD_FILENAMES and XDG_RUNTIME_DIR in this process (before Dawn loads Vulkan). */
export function chooseVulkanDriver(env: NodeJS.ProcessEnv = process.env): VulkanChoice {
  if (!env.XDG_RUNTIME_DIR || !existsSync(env.XDG_RUNTIME_DIR)) {
    const dir = join(tmpdir(), `homecoder-xdg-${process.getuid?.() ?? 0}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    env.XDG_RUNTIME_DIR = dir;
  }
  // An explicit choice (e.g. a real GPU's ICD on the device machine) wins.
  if (env.HOMECODER_VK_ICD) {
    env.VK_ICD_FILENAMES = env.HOMECODER_VK_ICD;
    return { ok: true, driver: 'system', icd: env.HOMECODER_VK_ICD };
  }
  if (env.HOMECODER_USE_SYSTEM_VULKAN === '1') return { ok: true, driver: 'system' };
  const lvp = findLavapipe();
  if (lvp) {
    env.VK_ICD_FILENAMES = lvp;
    return { ok: true, driver: 'lavapipe', icd: lvp };
  }
  if (existsSync(SWIFTSHADER_ICD)) {
    env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    return { ok: true, driver: 'swiftshader', icd: SWIFTSHADER_ICD };
  }
  return {
    ok: false,
    reason:
      'no software Vulkan driver: install mesa-vulkan-drivers >= 25 (bookworm-backports) or chromium ' +
      '(run scripts/setup-test-env.sh as root)',
  };
}
