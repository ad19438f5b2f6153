#!/usr/bin/env python3
"""Writes tests/consolidate/gold.ndjson, the labelled set of consolidate
--eval: mined records (as mine writes them) whose items carry "gold", the
entity each mention stands for.

The entities: people, organisations and jargon with the variants real
extractions produce (titles, initials, surnames alone, first names alone,
accents dropped, acronyms, spelling variants, plurals, hyphens, word order)
and near-misses that must stay apart (Anna and Anne Schmidt, Claire and
Pierre Moreau, Emily and Emma Chen, David Lee and David Li, Acme and Acme
Robotics, Google and Google DeepMind, embedding and embedding model). A
document names a small cast; a partial name ("Moreau", "Mr. Tanaka") is
used in a document only where the cast makes clear whom it means, except
a few documents where the gold label says who it is from the context the
text gives. Deterministic (seeded); run it again only to change the set:

    python3 tests/consolidate/make_gold.py > tests/consolidate/gold.ndjson
"""
import json
import random

# gold label -> (full names, variants used when the cast is unambiguous)
PEOPLE = {
    "p-claire-moreau": (["Dr. Claire Moreau", "Claire Moreau"],
                        ["Moreau", "Dr. Moreau", "C. Moreau", "Claire"]),
    "p-pierre-moreau": (["Pierre Moreau"], ["Moreau", "P. Moreau", "Pierre"]),
    "p-anna-schmidt": (["Anna Schmidt", "Dr. Anna Schmidt"], ["Dr. Schmidt", "A. Schmidt", "Anna"]),
    "p-anne-schmidt": (["Anne Schmidt", "Ms. Anne Schmidt"], ["Ms. Schmidt", "Anne"]),
    "p-john-smith": (["John Smith"], ["J. Smith", "Mr. Smith", "Smith"]),
    "p-jon-smyth": (["Jon Smyth"], ["Smyth", "Mr. Smyth"]),
    "p-rene-levesque": (["René Lévesque", "Rene Levesque"], ["Lévesque", "Levesque"]),
    "p-li-wei": (["Li Wei", "Wei Li"], ["Dr. Li"]),
    "p-robert-king": (["Robert King", "Bob King"], ["King", "Mr. King"]),
    "p-maria-garcia": (["María García", "Maria Garcia"], ["M. García", "Dr. Garcia", "García"]),
    "p-maria-gonzalez": (["María González"], ["González", "Ms. Gonzalez"]),
    "p-kenji-tanaka": (["Kenji Tanaka"], ["Mr. Tanaka", "Tanaka", "K. Tanaka"]),
    "p-yuki-tanaka": (["Yuki Tanaka"], ["Ms. Tanaka", "Y. Tanaka"]),
    "p-jean-luc-martin": (["Jean-Luc Martin", "Jean Luc Martin"], ["J.-L. Martin", "Martin"]),
    "p-ahmed-hassan": (["Ahmed Hassan", "Dr. Ahmed Hassan"], ["A. Hassan", "Hassan", "Dr. Hassan"]),
    "p-sarah-oconnor": (["Sarah O'Connor", "Sarah OConnor"], ["Ms. O'Connor", "O'Connor"]),
    "p-david-lee": (["David Lee", "Dave Lee"], ["Lee", "Mr. Lee"]),
    "p-david-li": (["David Li"], ["D. Li"]),
    "p-emily-chen": (["Emily Chen"], ["E. Chen", "Chen", "Emily"]),
    "p-emma-chen": (["Emma Chen"], ["Emma", "E. Chen"]),
    "p-thomas-mueller": (["Thomas Müller", "Thomas Mueller"], ["T. Müller", "Müller", "Mueller"]),
    "p-olivia-brown": (["Olivia Brown"], ["Ms. Brown", "Brown", "O. Brown"]),
}

ORGS = {
    "o-who": (["World Health Organization", "World Health Organization (WHO)",
               "World Health Organisation"], ["WHO", "the WHO"]),
    "o-acme": (["Acme Inc.", "Acme Incorporated"], ["Acme", "ACME"]),
    "o-acme-robotics": (["Acme Robotics", "Acme Robotics Ltd"], ["Acme Robotics"]),
    "o-un": (["United Nations"], ["UN", "U.N.", "the United Nations"]),
    "o-unicef": (["UNICEF", "United Nations Children's Fund"], ["UNICEF"]),
    "o-google": (["Google", "Google LLC"], ["Google Inc.", "Google"]),
    "o-deepmind": (["Google DeepMind", "DeepMind"], ["DeepMind"]),
    "o-mit": (["Massachusetts Institute of Technology"], ["MIT"]),
    "o-eu-commission": (["European Commission"], ["EC", "the European Commission"]),
    "o-ecb": (["European Central Bank"], ["ECB"]),
    "o-deutsche-bank": (["Deutsche Bank AG", "Deutsche Bank"], ["Deutsche Bank"]),
    "o-openai": (["OpenAI", "Open AI"], ["OpenAI"]),
    "o-ibm": (["International Business Machines", "IBM Corporation"], ["IBM"]),
    "o-meta": (["Meta Platforms, Inc.", "Meta Platforms"], ["Meta"]),
}

JARGON = {
    "j-llm": (["large language model", "Large Language Model (LLM)"],
              ["LLM", "LLMs", "large language models"]),
    "j-rag": (["retrieval-augmented generation", "Retrieval Augmented Generation"], ["RAG"]),
    "j-finetuning": (["fine-tuning", "fine tuning"], ["finetuning", "Fine-tuning"]),
    "j-embedding": (["embedding", "embeddings"], ["Embeddings", "vector embeddings"]),
    "j-embedding-model": (["embedding model"], ["embedding models"]),
    "j-kv-cache": (["KV cache", "key-value cache"], ["KV-cache"]),
    "j-precision": (["precision"], ["Precision"]),
    "j-recall": (["recall"], ["Recall"]),
    "j-backpressure": (["backpressure", "back-pressure"], ["back pressure"]),
    "j-throughput": (["throughput"], ["Throughput"]),
    "j-latency": (["latency", "latencies"], ["Latency"]),
    "j-tokenizer": (["tokenizer", "tokeniser"], ["tokenizers"]),
    "j-quantization": (["quantization", "quantisation"], ["4-bit quantization"]),
    "j-context-window": (["context window"], ["context windows"]),
}

ROLES = ["engineer", "researcher", "manager", "director", "analyst", "speaker"]
SAYS = ["said that", "argued that", "explained that", "noted that", "warned that"]
ABOUT = ["matters for", "was discussed with", "came up in the talks with",
         "is a priority at", "was reviewed by"]

# Casts: who may share a document. Partial names are safe only when one
# person of the cast has them.
CASTS = [
    ["p-claire-moreau", "p-anna-schmidt", "p-john-smith"],
    ["p-pierre-moreau", "p-anne-schmidt", "p-jon-smyth"],
    ["p-claire-moreau", "p-rene-levesque", "p-li-wei"],
    ["p-pierre-moreau", "p-robert-king", "p-maria-garcia"],
    ["p-maria-gonzalez", "p-kenji-tanaka", "p-david-lee"],
    ["p-yuki-tanaka", "p-jean-luc-martin", "p-david-li"],
    ["p-ahmed-hassan", "p-sarah-oconnor", "p-emily-chen"],
    ["p-emma-chen", "p-thomas-mueller", "p-olivia-brown"],
    ["p-claire-moreau", "p-emily-chen", "p-kenji-tanaka"],
    ["p-anna-schmidt", "p-maria-garcia", "p-thomas-mueller"],
    ["p-john-smith", "p-ahmed-hassan", "p-robert-king"],
    ["p-anne-schmidt", "p-yuki-tanaka", "p-sarah-oconnor"],
    ["p-li-wei", "p-olivia-brown", "p-jean-luc-martin"],
    ["p-rene-levesque", "p-david-lee", "p-maria-gonzalez"],
    ["p-david-li", "p-emma-chen", "p-jon-smyth"],
    ["p-claire-moreau", "p-pierre-moreau", "p-ahmed-hassan"],
    ["p-emily-chen", "p-emma-chen", "p-olivia-brown"],
    ["p-kenji-tanaka", "p-yuki-tanaka", "p-rene-levesque"],
    ["p-anna-schmidt", "p-anne-schmidt", "p-li-wei"],
    ["p-david-lee", "p-david-li", "p-thomas-mueller"],
]

ORG_SETS = [
    ["o-who", "o-un", "o-unicef"], ["o-acme", "o-mit", "o-ibm"],
    ["o-acme-robotics", "o-google", "o-ecb"], ["o-deepmind", "o-openai", "o-meta"],
    ["o-eu-commission", "o-deutsche-bank", "o-who"], ["o-google", "o-deepmind", "o-un"],
    ["o-acme", "o-acme-robotics", "o-eu-commission"], ["o-ecb", "o-deutsche-bank", "o-ibm"],
    ["o-openai", "o-meta", "o-mit"], ["o-unicef", "o-who", "o-google"],
]

JARGON_SETS = [
    ["j-llm", "j-rag", "j-embedding"], ["j-finetuning", "j-kv-cache", "j-latency"],
    ["j-precision", "j-recall", "j-embedding-model"], ["j-backpressure", "j-throughput",
                                                      "j-tokenizer"],
    ["j-quantization", "j-context-window", "j-llm"], ["j-embedding", "j-embedding-model",
                                                      "j-rag"],
    ["j-latency", "j-throughput", "j-backpressure"], ["j-tokenizer", "j-context-window",
                                                      "j-finetuning"],
]


def surname_ok(label, variant, cast):
    """A partial name is used only when no one else of the cast shares it."""
    if label.startswith("p-") and variant in PEOPLE[label][1]:
        for other in cast:
            if other == label:
                continue
            names = PEOPLE[other][0] + PEOPLE[other][1]
            if any(variant.split()[-1] in n.split() for n in names) or any(
                    variant.split()[0] in n.split() for n in names):
                return False
    return True


def pick(rng, table, label, cast, first):
    full, variants = table[label]
    if first or rng.random() < 0.45:
        return rng.choice(full)
    safe = [v for v in variants if surname_ok(label, v, cast)]
    return rng.choice(safe) if safe else rng.choice(full)


def main():
    rng = random.Random(20261204)
    out = []
    docs = 0
    for round_ in range(2):
        for ci, cast in enumerate(CASTS):
            docs += 1
            doc = "meetings/%02d-%s.md" % (docs, "notes" if round_ else "minutes")
            orgs = ORG_SETS[(ci + round_ * 3) % len(ORG_SETS)]
            terms = JARGON_SETS[(ci + round_ * 5) % len(JARGON_SETS)]
            seen = set()
            for seq in range(rng.randint(3, 5)):
                people = rng.sample(cast, rng.randint(1, 2))
                org = rng.choice(orgs)
                term = rng.choice(terms)
                pn = [pick(rng, PEOPLE, p, cast, p not in seen) for p in people]
                on = pick(rng, ORGS, org, [], org not in seen)
                tn = pick(rng, JARGON, term, [], term not in seen)
                seen.update(people + [org, term])
                text = "%s %s %s %s %s." % (pn[0], rng.choice(SAYS), tn, rng.choice(ABOUT), on)
                if len(pn) > 1:
                    text += " %s agreed and asked for numbers." % pn[1]
                mined = {
                    "people": [{"name": n, "role": rng.choice(ROLES), "gold": g}
                               for n, g in zip(pn, people)],
                    "organisations": [{"name": on, "description": "", "gold": org}],
                    "jargon": [{"term": tn, "definition": "", "gold": term}],
                }
                out.append({"id": "%s:%d" % (doc, seq), "doc": doc, "seq": seq, "text": text,
                            "mined": mined, "mined_model": "gold"})
    # hard cases the casts avoid: a surname alone where two people share
    # it, resolved by the document's context in the gold label only
    hard = [
        ("meetings/90-both-moreaus.md", "Claire Moreau and Pierre Moreau met. Moreau, the "
         "epidemiologist, presented first.", [("Claire Moreau", "p-claire-moreau"),
                                               ("Pierre Moreau", "p-pierre-moreau"),
                                               ("Moreau", "p-claire-moreau")]),
        ("meetings/91-both-chens.md", "Emily Chen and Emma Chen disagreed. E. Chen, who runs "
         "the data team, won.", [("Emily Chen", "p-emily-chen"), ("Emma Chen", "p-emma-chen"),
                                 ("E. Chen", "p-emily-chen")]),
    ]
    for doc, text, people in hard:
        out.append({"id": doc + ":0", "doc": doc, "seq": 0, "text": text,
                    "mined": {"people": [{"name": n, "role": "", "gold": g} for n, g in people],
                              "organisations": [], "jargon": []}, "mined_model": "gold"})
    for r in out:
        print(json.dumps(r, ensure_ascii=False))


if __name__ == "__main__":
    main()
