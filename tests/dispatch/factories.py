"""Small, made-up training data for the dispatch tests (never the real messages)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

PHRASES = {
    "城乡建设": [
        "道路坑洼",
        "路面塌陷",
        "井盖缺失",
        "小区电梯",
        "房屋裂缝",
        "桥梁破损",
        "路灯不亮",
    ],
    "环境保护": [
        "噪声扰民",
        "油烟直排",
        "河道发臭",
        "工地扬尘",
        "偷排污水",
        "垃圾焚烧",
        "异味刺鼻",
    ],
    "教育文体": [
        "学校收费",
        "入学报名",
        "教师补课",
        "校车安全",
        "学位不足",
        "幼儿园学费",
        "体育场馆",
    ],
}
FILLER = ["请有关部门", "尽快处理", "多次反映", "没有结果", "影响生活", "希望解决", "附近居民"]
ROAD_TEXT = "村口道路坑洼路面塌陷，井盖缺失，请有关部门尽快处理"
NOISE_TEXT = "楼下工地噪声扰民，夜间施工，工地扬尘严重，希望解决"


def sentences(label: str, count: int, seed: int = 5) -> list[str]:
    rng = random.Random(f"{label}-{seed}")
    own = PHRASES[label]
    return ["，".join(rng.sample(own, 3) + rng.sample(FILLER, 2)) + "。" for _ in range(count)]


def write_csv(path: Path, per_label: dict[str, int]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["uid", "label", "text"])
        for label, count in per_label.items():
            for number, text in enumerate(sentences(label, count)):
                writer.writerow([f"{label}-{number}", label, text])
    return path
