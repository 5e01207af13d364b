#!/usr/bin/python3
"""Writes hard_strings.jsonl: the corpus the tokenizer reference test runs on (one JSON string a line).

Deterministic (fixed seed), so regenerating gives the same file. Run with Debian's /usr/bin/python3.
"""
import json
import os
import random
import unicodedata

rng = random.Random(20261125)
out = []


def add(s):
    out.append(s)


SCRIPTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Ça va? Déjà vu, naïve café, œuvre, Noël, À bientôt!",
    "Straße, Größe, Äpfel und Öl; ÜBER",
    "¿Qué tal? ¡Olé! mañana, pingüino",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
    "صِف خَلقَ خَودِ كَمِثلِ الشَمسِ إِذ بَزَغَت",
    "דג סקרן שט בים מאוכזב ולפתע מצא חברה",
    "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले",
    "আমি বাংলায় গান গাই, ক্ষ্মা",
    "யாமறிந்த மொழிகளிலே தமிழ்மொழி போல் இனிதாவது எங்கும் காணோம்",
    "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า กว่าบรรดาฝูงสัตว์เดรัจฉาน",
    "ສະບາຍດີ ພາສາລາວ",
    "ភាសាខ្មែរ សួស្តី",
    "မြန်မာဘာသာ မင်္ဂလာပါ",
    "ქართული ენა, გამარჯობა",
    "Հայերեն լեզու, բարեւ",
    "ሰማይ አይታረስ ንጉሥ አይከሰስ።",
    "我能吞下玻璃而不伤身体。人工智能正在改变世界！",
    "我能吞下玻璃而不傷身體。繁體中文測試",
    "いろはにほへと ちりぬるを わかよたれそ つねならむ カタカナ 漢字",
    "키스의 고유조건은 입술끼리 만나야 하고 특별한 기술은 필요치 않다.",
    "Tiếng Việt có dấu: Người ta thường nói rằng ước mơ",
    "İstanbul'da ılık bir gün; IĞDIR ığdır ŞÇÖÜ",
    "ᠮᠣᠩᠭᠣᠯ ᠬᠡᠯᠡ",
    "བོད་ཡིག་ བཀྲ་ཤིས་བདེ་ལེགས།",
    "සිංහල භාෂාව ආයුබෝවන්",
    "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ",
    "∀x∈ℝ: x² ≥ 0, ∑ᵢ aᵢ = ∫₀^∞ f(t) dt ≠ ∞ ± √2",
    "IPA: [ˈfəʊnətɪk] ʃ ʒ θ ð ŋ ɲ ʔ",
    "Ελληνικά και English mixed 中文 and العربية in one line",
    "ꦗꦮ ᮞᮥᮔ᮪ᮓ ᜆᜄᜎᜓᜄ᜔ ᥖᥭᥰ",
    "𐌰𐌱𐌲 𓀀𓀁 𒀀𒀁 𝄞𝄢 𠀀𠀁𪚥",
]
for s in SCRIPTS:
    add(s)
    add(s.upper())
    add(" " + s + " ")

# NFD and compatibility forms: NFC/NFKC normalizers must recompose exactly like Hugging Face.
NORMALIZE = [
    "Ça va? Déjà vu, naïve café", "Tiếng Việt có dấu", "한국어 텍스트", "Ångström ñandú",
    "ﬁnance ﬂow ﬀ", "ＦＵＬＬＷＩＤＴＨ ＡＢＣ １２３", "①②③ ⅫⅣ x² H₂O", "ｶﾀｶﾅ ﾊﾝｶｸ",
    "ㄱㄴㄷ ㅏㅑ", "Å Ω K µ", "e\u0301 a\u0300 o\u0308 n\u0303", "\u1100\u1161\u11a8",
    "\u0301\u0301leading combining marks", "ǅ ǈ ǋ ﬅ", "㍿ ㌔ ㎏",
]
for s in NORMALIZE:
    add(s)
    add(unicodedata.normalize("NFD", s))
    add(unicodedata.normalize("NFKD", s))

EMOJI = [
    "👨‍👩‍👧‍👦", "👩🏽‍💻", "👍🏻👍🏼👍🏽👍🏾👍🏿", "🏳️‍🌈", "🇺🇸🇨🇳🇯🇵🇩🇪", "1️⃣#️⃣*️⃣", "❤️‍🔥", "🧑🏿‍🤝‍🧑🏻",
    "😀😃😄😁😆😅😂🤣", "☺️ ☺ ✌️", "🫠🫡🫶🏾", "👁️‍🗨️", "🐈‍⬛", "🤷‍♀️🤷🏽‍♂️",
]
for e in EMOJI:
    add(e)
    add("hello " + e + " world")
    add(e + e)
add(" ".join(EMOJI))

WS = [" ", "  ", "   ", "    ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", "\r",
      " \n", "\n ", " \t \n", "\u00a0", "\u3000", "\u2009", "\u200b", "\ufeff", "\u0085", "\u2028",
      "\x0b", "\x0c", "\u202f", "\u1680"]
for w in WS:
    add(w)
    add("a" + w + "b")
    add("word" + w * 3 + "word")
    add(w + "lead and trail" + w)
for n in [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 64, 100]:
    add(" " * n)
    add("x" + " " * n + "y")
    add("\t" * n + "indent")
    add("line\n" + " " * n + "next")
add("line one\r\nline two\r\n\r\nline four\r\n")
add("mixed \t \r\n \n\t  tabs\tand\tspaces  \n")
add("trailing spaces   ")
add("   leading spaces")

CODE = [
    'def f(x):\n    return x ** 2  # square\n',
    'for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n',
    'const f = async (a, b) => { await g(a?.b ?? 0); };',
    '{"key": [1, 2.5, -3e10, true, null], "nested": {"a": "b\\n"}}',
    '<div class="x" id=\'y\'><a href="https://example.com/?q=1&r=2">link</a></div>',
    r'^\s*(\d{3})-(\d{4})\s*$|[A-Za-z_][A-Za-z0-9_]*',
    'if [ -f "$HOME/.bashrc" ]; then source ~/.bashrc; fi && echo $((1+2))',
    'SELECT id, name FROM users WHERE age >= 18 AND name LIKE \'%son\' ORDER BY id DESC;',
    'fn main() -> Result<(), Box<dyn Error>> {\n    println!("{:?}", vec![1u8; 4]);\n    Ok(())\n}',
    '#include <vector>\ntemplate <typename T>\nstd::vector<T> v{1, 2, 3};\n',
    '    \n        indented\n    \n',
    'x=1;y=2;z=x+y;print(z)//comment/*block*/',
    '!!!???...,,,;;;:::---___+++===***&&&|||',
    '"""docstring"""  \'\'\'another\'\'\'',
    '```python\nprint("hi")\n```',
    'a_b_c__d___e camelCaseWord snake_case_word SCREAMING_CASE kebab-case-word',
    'http://localhost:8080/api/v1/chat/completions?stream=true#frag',
    'user@example.com +1 (555) 123-4567',
]
for c in CODE:
    add(c)
    add(c * 3)

for n in [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 20, 33, 50, 100]:
    add("".join(rng.choice("0123456789") for _ in range(n)))
add("3.14159265358979323846264338327950288419716939937510")
add("1,234,567.89 -0.001 1e-9 0x1F 0b1010 007")
add("2026-11-25T16:41:19Z 12:30:45.123")
add("٠١٢٣٤٥٦٧٨٩ ۰۱۲۳ १२३ ১২৩ ๑๒๓ １２３")
add("abc123def456 v1.2.3 x86_64 GPT4o")
add("Ⅰ Ⅱ Ⅲ ½ ¾ ⅞ ² ³ ¹")

SPECIALS = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<tool_call>",
    "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>",
    "<|reserved_special_token_5|>", "<s>", "</s>", "<unk>", "<bos>", "<eos>", "<pad>",
    "<start_of_turn>", "<end_of_turn>", "<start_of_image>", "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<|fim_prefix|>", "<mask>",
]
for t in SPECIALS:
    add(t)
    add("Hello" + t + "world")
    add(" " + t + " ")
    add(t + t)
    add("x " + t + "\n" + t + " y")
    add(t[:-1])
    add("<" + t + ">")
add("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n")
add("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>")
add("<s>[INST] What is 2+2? [/INST] 4</s><s>[INST] and 3+3? [/INST]")
add("<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n")
add("<｜begin▁of▁sentence｜><｜User｜>你好<｜Assistant｜>")
add("<|im_start|")
add("|im_start|>")
add("<|im_start |>")

CONTRACTIONS = ["don't", "DON'T", "I'm", "I'M", "we'll", "WE'LL", "they'd", "THEY'D", "you've",
                "it's", "IT'S", "isn't", "can't", "o'clock", "rock'n'roll", "'s'", "''", "'",
                "don’t (curly)", "'re 've 'll 'd 'm 's 't", "'S'T'RE'VE'M'LL'D"]
for c in CONTRACTIONS:
    add(c)
    add("Well, " + c + " ok")

add("")
for s in ["a", "A", "'", '"', ".", "\\", "\x00", "\x01", "\x7f", "\u0080", "\u009f", "\ue000",
          "\U000f0000", "\ufffd", "\ufffe", "\u2581", "\u2581\u2581hello", "hello\u2581world",
          "▁ leading metaspace", "Ġ Ċ ĉ", "<0x0A>", "<0xFF> byte token literal", "\u0000nul"]:
    add(s)
    add("x" + s + "y")

add("a" * 10000)
add("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10000)))
add("".join(rng.choice("абвгдежзийклмнопрстуфхцчшщъыьэюя") for _ in range(10000)))
add("ab" * 5000)
add("1" * 1000)
add("!" * 1000)
add("中" * 2000)
add("😀" * 500)
add((" " * 50 + "\n") * 20)

# Random mixtures drawn from all of the above and from a pool of awkward characters.
POOL = list("aZ9 \t\n\r'\".,!?-_/\\<>|{}[]()") + ["é", "e\u0301", "ß", "ı", "İ", "中", "語", "あ",
        "ア", "한", "ا", "ע", "ह", "ก", "ü", "ñ", "€", "£", "¥", "—", "–", "…", "“", "”", "’",
        "\u00a0", "\u3000", "\u200b", "😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "𝄞", "𠀀", "①", "ﬁ", "Ａ",
        "\u2581", "Ġ", "0", "12", "345", "<s>", "<|im_end|>", "<think>", "<eos>", "</s>"]
base = list(out)
while len(out) < 720:
    kind = rng.random()
    if kind < 0.5:
        add("".join(rng.choice(POOL) for _ in range(rng.randint(1, 40))))
    else:
        a, b = rng.choice(base), rng.choice(base)
        if len(a) + len(b) < 2000:
            add(a + rng.choice(["", " ", "\n", "\t"]) + b)

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "hard_strings.jsonl"), "w", encoding="utf-8") as f:
    for s in out:
        f.write(json.dumps(s, ensure_ascii=False) + "\n")
print(len(out), "strings")
