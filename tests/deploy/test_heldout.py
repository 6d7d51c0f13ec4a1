"""The held-out sets measure; nothing trains or tunes on them: no held-out text is in the bot's training
data, in the search's tuning questions (English and German) or in the NLU's tuning set, and nothing
that trains reads them."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HELDOUT = ROOT / "heldout"


def _norm(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # Rasa's entity markup: [vpn](topic) -> vpn
    return re.sub(r"[^\w]+", " ", text.lower()).strip()


def _training_examples() -> set[str]:
    examples: set[str] = set()
    for path in (ROOT / "bot" / "data").rglob("*.yml"):
        for block in (yaml.safe_load(path.read_text()) or {}).get("nlu") or []:
            for line in str(block.get("examples") or "").splitlines():
                if line.strip().startswith("- "):
                    examples.add(_norm(line.strip()[2:]))
    for path in (ROOT / "bot" / "tests").rglob("*.yml"):
        for story in (yaml.safe_load(path.read_text()) or {}).get("stories") or []:
            for step in story.get("steps") or []:
                if isinstance(step, dict) and step.get("user"):
                    examples.add(_norm(str(step["user"])))
    return examples


def _heldout_texts() -> dict[str, set[str]]:
    texts: dict[str, set[str]] = {}
    for name in ("intents_en", "intents_de"):
        texts[name] = {
            _norm(u["text"]) for u in yaml.safe_load((HELDOUT / f"{name}.yml").read_text())["utterances"]
        }
    for name in ("kb_questions_en", "kb_questions_de"):
        data = yaml.safe_load((HELDOUT / f"{name}.yml").read_text())
        texts[name] = {_norm(q["q"]) for q in data["questions"]} | {
            _norm(q["q"] if isinstance(q, dict) else q) for q in data.get("unanswerable") or []
        }
    for name in ("scenarios_en", "scenarios_de"):
        texts[name] = {
            _norm(s["opening"]) for s in yaml.safe_load((HELDOUT / f"{name}.yml").read_text())["scenarios"]
        }
    return texts


def test_the_held_out_sets_are_big_enough() -> None:
    texts = _heldout_texts()
    assert len(texts["intents_en"]) >= 150 and len(texts["kb_questions_en"]) >= 200
    assert len(texts["scenarios_en"]) >= 60
    assert len(texts["intents_de"]) >= 100 and len(texts["kb_questions_de"]) >= 60
    assert len(texts["scenarios_de"]) >= 20


def test_no_held_out_text_is_trained_on() -> None:
    training = _training_examples()
    assert len(training) > 1000  # the walk found the training data (nlu.yml, CLINC's part, stories)
    for name, texts in _heldout_texts().items():
        overlap = sorted(texts & training)
        assert not overlap, f"{name} overlaps the bot's training data: {overlap[:5]}"


def test_no_held_out_question_tunes_the_search_or_the_nlu() -> None:
    search_tuning: set[str] = set()
    for name in ("eval_questions.yml", "eval_questions_de.yml"):
        tuning = yaml.safe_load((ROOT / "tests/knowledge_base" / name).read_text())
        search_tuning |= {_norm(q["q"]) for q in tuning["in_domain"]} | {
            _norm(q) for q in tuning["out_of_domain"]
        }
    assert len(search_tuning) > 300  # both files were read (English and German)
    nlu_tuning = {
        _norm(u["text"])
        for u in yaml.safe_load((ROOT / "bench/nlu/dev_intents.yml").read_text())["utterances"]
    }
    for name, texts in _heldout_texts().items():
        assert not texts & search_tuning, f"{name} overlaps the search's tuning questions"
        assert not texts & nlu_tuning, f"{name} overlaps the NLU's tuning set"


def test_nothing_that_trains_reads_the_held_out_folder() -> None:
    trainers = [ROOT / "bot" / "config.yml", ROOT / "Makefile", ROOT / "scripts" / "build_clinc_data.py"]
    trainers += list((ROOT / "bot" / "data").rglob("*.yml"))
    for path in trainers:
        assert "heldout" not in path.read_text(), f"{path.relative_to(ROOT)} names the held-out folder"
