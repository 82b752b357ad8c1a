"""Chat conversations for teaching the demo model to end its turn: rendered through the real Gemma 3 chat template
(gemma3_chat_template.jinja, Google's tokenizer_config.json template) and tokenized with a loss mask that is 1 on
each model turn's tokens and on the <end_of_turn> that closes it, 0 elsewhere (the user's text, the template's
markup, padding).

The model only knows the King James Bible, so every answer is 1-3 consecutive verses of a training chapter (never a
held-out one, so held-out perplexity stays clean); what varies is the question: a topic word the first verse holds,
the start of a verse to continue, a book to quote from, and everyday or garbled requests it cannot really answer
(a greeting, arithmetic, code, random characters, a pasted paragraph). The end is learned from the turn structure,
not from the question, so it holds for prompts never seen here. Conversations have 1-3 exchanges and sometimes a
system message (the template folds it into the first user turn)."""
import random
import re
import subprocess
from pathlib import Path

import jinja2

TEMPLATE = (Path(__file__).resolve().parent / "gemma3_chat_template.jinja").read_text()

# everyday requests a demo user types first; the answer is still scripture, the point is that it ends
GENERIC = [
    "Hello", "hi", "Hi there!", "Good morning.", "hey, how are you?", "Who are you?", "What is your name?",
    "What can you do?", "Are you a robot?", "Tell me a joke.", "Tell me a story.", "Write a poem about the sea.",
    "Write a haiku about autumn.", "What is 2 + 2?", "What is the square root of 144?", "How far is the moon?",
    "What is the capital of France?", "Explain quantum computing in simple terms.", "How do I bake bread?",
    "Give me three tips for sleeping better.", "What should I cook tonight?", "Translate 'good night' into German.",
    "Write a Python function that reverses a string.", "What is the meaning of life?", "Why is the sky blue?",
    "Summarize the news for me.", "Recommend a good book.", "What time is it?", "What's the weather like today?",
    "I am sad.", "I am so happy today!", "Help me write an email to my boss.", "Can you help me with my homework?",
    "Describe a sunset.", "What do you think about artificial intelligence?", "List the planets of the solar system.",
    "How do airplanes fly?", "Tell me something interesting.", "What is love?", "Say something wise.",
    "Thank you!", "ok", "Yes.", "No.", "Why?", "Continue.", "Go on.", "Tell me more.", "Explain that again, please.",
    "Please answer in one sentence.", "Can you speak French?", "Who made you?", "Do you dream?",
    "Which is bigger, an elephant or a mouse?", "Count from one to ten.", "Spell 'necessary'.",
    "Give me a motivational quote.", "What is the best programming language?", "How do I fix a flat tyre?",
    "Write a limerick about a cat.", "Plan a trip to Rome for me.", "What is photosynthesis?",
    "SELECT * FROM users;", "print('hello world')", "fn main() { println!(\"hi\"); }", "{\"key\": \"value\"}",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.", "asdfghjkl", "???", "...", "1234567890",
    "Bonjour, comment ça va ?", "¿Qué hora es?", "Guten Tag!", "こんにちは", "Привет", "😀👍", "test", "TEST 123",
]
SYSTEMS = [
    "You are a helpful assistant.", "You are a concise assistant. Answer in plain English.",
    "Answer briefly.", "You are Jemma, a small demo model.", "Speak like the King James Bible.",
    "You are a friendly chatbot.", "Always answer in one or two sentences.",
]
TOPIC = [
    "What does the Bible say about {w}?", "Tell me about {W}.", "Who was {W}?", "Give me a verse about {w}.",
    "Quote a verse about {w}.", "{W}", "{w}?", "Say something about {w}.", "What do you know about {w}?",
    "Speak to me of {w}.", "I want to read about {w}.", "Where does the Bible mention {w}?", "Any words on {w}?",
    "tell me about {w}", "{W}!", "Explain {w} to me.", "What is {w}?", "Is there a verse on {w}?",
]
CONTINUE = ["Continue: {t}", "Finish this verse: {t}", "{t}", "{t}...", "Complete the verse: \"{t}\"",
            "What comes next? {t}", "{t}"]
BOOK = ["Quote a verse from {b}.", "Read me something from {b}.", "What does {b} say?", "A verse from {b}, please.",
        "{b}", "Tell me about the book of {b}."]
PASTE = ["Summarize this: {p}", "What does this mean? {p}", "{p}", "Explain: {p}", "Rewrite this in modern English: {p}"]

STOP = set("""a an and the of to in that he she it they them his her their him i me my we us our you your ye thee thou
thy shall unto for is was be not with as all which upon this but by from were have had are there then when so
will also what said one shalt hath come came out up into even let no or every on at before say who these those
do did him hast art any made make may an o""".split())


def chapters_with_verses():
    """Training and held-out chapters as lists of verses, with their book names, split exactly as train.txt is
    (chapter index % 25 == 7 is held out)."""
    raw = subprocess.run(["bible", "-l0", "gen1:1-rev22:21"], capture_output=True, text=True, check=True).stdout
    chapters, cur, book = [], None, None
    for line in raw.splitlines():
        m = re.match(r"^\s+\d+ (.*)$", line)
        if m:
            cur[1].append(m.group(1).strip())
        elif line.strip():
            if cur and cur[1]:
                chapters.append(cur)
            book = re.sub(r"\s*\d+$", "", line.strip())
            cur = (book, [])
    if cur and cur[1]:
        chapters.append(cur)
    train = [c for i, c in enumerate(chapters) if i % 25 != 7]
    return train


class ChatData:
    def __init__(self, sp, seed: int, max_tokens: int = 384, answer_tokens: int = 160):
        self.sp, self.max_tokens, self.answer_tokens = sp, max_tokens, answer_tokens
        self.rng = random.Random(seed)
        self.chapters = chapters_with_verses()
        self.books = sorted({b for b, _ in self.chapters})
        self.by_book = {}
        for ci, (b, vs) in enumerate(self.chapters):
            self.by_book.setdefault(b, []).append(ci)
        words = {}
        for ci, (_, vs) in enumerate(self.chapters):
            for vi, v in enumerate(vs):
                for w in set(re.findall(r"[A-Za-z]+", v)):
                    if w.lower() not in STOP and len(w) > 2:
                        words.setdefault(w, []).append((ci, vi))
        self.words = sorted(w for w, occ in words.items() if len(occ) >= 3)
        # common topics come up more often than rare words, as in what people ask
        self.word_weights = [len(words[w]) ** 0.5 for w in self.words]
        self.where = words
        self.env = jinja2.Environment()
        self.env.globals["raise_exception"] = lambda m: (_ for _ in ()).throw(ValueError(m))
        self.template = self.env.from_string(TEMPLATE)
        self.sot, self.eot = sp.piece_to_id("<start_of_turn>"), sp.piece_to_id("<end_of_turn>")

    # ------------------------------------------------------------------ answers
    def answer(self, ci, vi):
        """1-3 verses from (chapter, verse) on, at most answer_tokens tokens (at least the first verse). One answer in
        seven of more than 40 tokens stops after a comma, semicolon or colon in its second half instead: a model that
        only ever ends after a full stop never ends a run-on clause list (", and the LORD, and the LORD, ..."), the way a
        small model's greedy answer can loop."""
        vs = self.chapters[ci][1]
        n = self.rng.choices([1, 2, 3], [0.5, 0.3, 0.2])[0]
        out = [vs[vi]]
        for v in vs[vi + 1:vi + n]:
            if len(self.sp.encode(" ".join(out + [v]))) > self.answer_tokens:
                break
            out.append(v)
        text = " ".join(out)
        if self.rng.random() < 1 / 7 and len(self.sp.encode(text)) > 40:
            cuts = [m.end() for m in re.finditer(r"[,;:](?= )", text) if m.end() > len(text) // 2]
            if cuts:
                text = text[:self.rng.choice(cuts)]
        return text

    def runaway(self):
        """An answer gone wrong, as a small model's can: a phrase repeated over and over ("the son of the son of ..."),
        or a long run of text with no end in sight, cut anywhere. Trained with the loss on its <end_of_turn> only, so
        the model learns to end such a turn without learning to write one."""
        ci, vi = self.random_verse()
        words = " ".join(self.chapters[ci][1][vi:vi + 8]).split()
        if self.rng.random() < 0.5:
            k = self.rng.randint(0, len(words) - 4)
            phrase = " ".join(words[k:k + self.rng.randint(1, 4)])
            text = " ".join([phrase] * self.rng.randint(4, 24))
            if self.rng.random() < 0.5:
                text = " ".join(words[:self.rng.randint(1, 12)]) + " " + text
        else:
            text = " ".join(words[:self.rng.randint(60, 140)])
        ids = self.sp.encode(text)[:self.rng.randint(80, 200)]
        return self.sp.decode(ids)

    def random_verse(self):
        ci = self.rng.randrange(len(self.chapters))
        return ci, self.rng.randrange(len(self.chapters[ci][1]))

    # ------------------------------------------------------------------ questions
    def exchange(self):
        r, rng = self.rng.random(), self.rng
        if r < 0.32:  # a topic word the answer's first verse holds
            w = rng.choices(self.words, self.word_weights)[0]
            ci, vi = rng.choice(self.where[w])
            q = rng.choice(TOPIC).format(w=w.lower() if not w[0].isupper() or w.lower() in STOP else w,
                                         W=w[0].upper() + w[1:])
            return q, self.answer(ci, vi)
        if r < 0.47:  # the start of a verse: the answer is the rest of it (and maybe the next)
            ci, vi = self.random_verse()
            words = self.chapters[ci][1][vi].split()
            if len(words) < 6:
                return self.exchange()
            k = rng.randint(2, len(words) // 2)
            rest = " ".join(words[k:])
            nxt = self.chapters[ci][1][vi + 1:vi + 2] if rng.random() < 0.3 else []
            return rng.choice(CONTINUE).format(t=" ".join(words[:k])), " ".join([rest] + nxt)
        if r < 0.57:  # a book to quote from
            b = rng.choice(self.books)
            ci = rng.choice(self.by_book[b])
            return rng.choice(BOOK).format(b=b), self.answer(ci, rng.randrange(len(self.chapters[ci][1])))
        if r < 0.85:  # everyday requests, sometimes with a changed case or an extra question
            q = rng.choice(GENERIC)
            if rng.random() < 0.2:
                q = q.lower() if rng.random() < 0.5 else q.upper()
            if rng.random() < 0.15:
                q = q + " " + rng.choice(GENERIC)
            return q, self.answer(*self.random_verse())
        if r < 0.93:  # a pasted paragraph of other text
            ci, vi = self.random_verse()
            p = " ".join(self.chapters[ci][1][vi:vi + rng.randint(1, 3)])
            return rng.choice(PASTE).format(p=p), self.answer(*self.random_verse())
        # garbled input: random letters, digits, punctuation, words out of order, other scripts
        kind = rng.randrange(4)
        if kind == 0:
            q = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz      .,?!0123456789") for _ in range(rng.randint(1, 60)))
        elif kind == 1:
            q = " ".join(rng.choice(self.words) for _ in range(rng.randint(1, 12)))
        elif kind == 2:
            q = "".join(chr(rng.choice([rng.randint(0x21, 0x7e), rng.randint(0xc0, 0x24f), rng.randint(0x3040, 0x30ff),
                                        rng.randint(0x400, 0x4ff), rng.randint(0x1f600, 0x1f64f)]))
                        for _ in range(rng.randint(1, 20)))
        else:
            q = str(rng.randint(0, 10 ** rng.randint(1, 12)))
        return q.strip() or "?", self.answer(*self.random_verse())

    def conversation(self):
        rng = self.rng
        n = rng.choices([1, 2, 3], [0.6, 0.25, 0.15])[0]
        msgs = []
        if rng.random() < 0.15:
            msgs.append({"role": "system", "content": rng.choice(SYSTEMS)})
        for _ in range(n):
            q, a = self.exchange()
            msgs += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        if rng.random() < 0.08:  # the last answer ran away: only its end is trained
            msgs[-1] = {"role": "assistant", "content": self.runaway(), "learn_text": False}
        return msgs

    # ------------------------------------------------------------------ tokens
    def render(self, msgs):
        return self.template.render(messages=msgs, bos_token="<bos>", add_generation_prompt=False)

    def tokens(self, msgs):
        """(ids, mask) of one rendered conversation: BOS, then every fragment between the template's turn markers
        encoded on its own (as a tokenizer does: the markers are unsplittable), mask 1 on model text + its end (only
        the end for an answer marked learn_text False)."""
        text = self.render(msgs)
        assert text.startswith("<bos>")
        ids, mask = [self.sp.bos_id()], [0]
        model_turn = False
        learn_text = iter([m.get("learn_text", True) for m in msgs if m["role"] == "assistant"])
        learn = True
        for frag in re.split(r"(<start_of_turn>|<end_of_turn>)", text[len("<bos>"):]):
            if frag == "<start_of_turn>":
                ids.append(self.sot)
                mask.append(0)
            elif frag == "<end_of_turn>":
                ids.append(self.eot)
                mask.append(1 if model_turn else 0)
                model_turn = False
            elif frag:
                if frag.startswith("model\n"):
                    head = self.sp.encode("model\n")
                    ids += head
                    mask += [0] * len(head)
                    frag, model_turn, learn = frag[len("model\n"):], True, next(learn_text)
                body = self.sp.encode(frag)
                ids += body
                mask += [1 if model_turn and learn else 0] * len(body)
        return ids, mask

    def sample(self):
        """One conversation of at most max_tokens tokens (dropping trailing exchanges that do not fit)."""
        while True:
            msgs = self.conversation()
            while True:
                ids, mask = self.tokens(msgs)
                if len(ids) <= self.max_tokens or len(msgs) <= 3:
                    break
                msgs = msgs[:-2]
            if len(ids) <= self.max_tokens:
                return ids, mask
