"""Time clean() + SubstanceMatcher.find() (+ find_candidates) over a few thousand synthetic posts.

    .venv/bin/python benchmarks/bench_substances.py [N_POSTS]

Prints the load time of SubstanceMatcher.default() (in a fresh interpreter, so imports are counted) and µs/post
and posts/s for each stage. The posts are generated from templates: drug offers in the languages of the region,
obfuscated spellings, news items, and ordinary classified ads that share words with drug slang.
"""
from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from npswatch.pipelines.candidates import find_candidates  # noqa: E402
from npswatch.pipelines.substances import SubstanceMatcher  # noqa: E402
from npswatch.pipelines.text import clean  # noqa: E402

NAMES = ["соль", "меф", "мефедрон", "альфа", "а-пвп", "α-PVP", "спайс", "микс", "гашиш", "шишки", "ск", "тұз",
         "Spays", "амф", "героин", "экстази", "кокаин", "лёд", "ᴍᴇᴘʜᴇᴅʀᴏɴᴇ", "ме\u200bф", "мeфeдpoн", "с0ль",
         "5F-MDMB-PICA", "MDMB-4en-PINACA", "CH-PIATA", "4F-ABUTINACA", "冰毒", "K粉", "гаш", "метадон"]
CITIES = ["Алматы", "Астана", "Бишкек", "Ош", "Ташкент", "Душанбе", "Москва", "Новосибирск", "Караганда",
          "Самарканд", "Тбилиси", "Кишинёв", "Белград", "Минск", "北京"]
EMOJI = ["🧂", "❄️", "🔥", "✅", "💎", "🚀", "", "", ""]
SHOP = ["Магазин работает 24/7", "Оператор на связи", "Клады по городу", "В наличии", "Бот: @example_bot",
        "Доставка по городу", "Гарант качества", ""]
ADS = ["Соль поваренная йодированная 1 кг — {p} ₽", "Фен для волос Philips, 2000 Вт, {p} тг",
       "Шишки сосновые для декора, 50 шт — {p} ₽", "Скорость интернета до 500 Мбит/с, {p} тг в месяц",
       "Мука пшеничная высший сорт 2 кг {p} тг", "Требуется оператор call-центра, зарплата от {p} сом",
       "Продам iPhone 13, 128 ГБ, {p} тг, торг", "Сдаётся квартира в центре, {p} сом/мес",
       "Насвай оптом, 1 пачка {p} тг", "Альфа-Банк: кредит до {p} ₽ без справок",
       "Курс доллара вырос до {p} тенге, сообщает Нацбанк", "Продаю велосипед, скорость 21, цена {p} руб"]
FILLER = ["Почти новый, торг уместен, звоните после 18:00.", "Самовывоз из центра или доставка курьером.",
          "Фото по запросу, пишите в личные сообщения.", "Работаем без выходных, отвечаем быстро.",
          "Качество проверено, отзывы в группе.", "Цена актуальна до конца месяца.", ""]
DESCR = ["VHQ кристаллы", "чистота 99%", "крупный кристалл", "мелкий порошок", "новая партия", "лучшее качество",
         "отзывы в чате", ""]
NEWS = ["В {c} задержан курьер с партией {n}", "МВД: в {c} изъято 2 кг {n}",
        "Суд в {c} вынес приговор закладчику мефедрона"]


def make_posts(n: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    posts = []
    for _ in range(n):
        r = rnd.random()
        price = rnd.choice([1500, 3000, 4500, 12000, 17000, 250000])
        if r < 0.55:
            lines = [f"{rnd.choice(EMOJI)} {rnd.choice(NAMES)} {rnd.choice(DESCR)} {rnd.choice(EMOJI)} "
                     f"{rnd.choice(CITIES)}"]
            for q in rnd.sample([0.5, 1, 2, 3, 5, 10], rnd.randint(1, 4)):
                lines.append(f"{q}г — {int(price * q)} {rnd.choice(['тг', '₽', 'сом', '$', 'сум'])}")
            lines.append(rnd.choice(SHOP))
            lines.append(rnd.choice(SHOP))
            if rnd.random() < 0.3:
                lines.append(f"Также: {rnd.choice(NAMES)}, {rnd.choice(NAMES)}")
            posts.append("\n".join(lines))
        elif r < 0.9:
            posts.append(rnd.choice(ADS).format(p=price) + " " + rnd.choice(CITIES) + ". " +
                         " ".join(rnd.sample(FILLER, rnd.randint(0, 3))))
        else:
            posts.append(rnd.choice(NEWS).format(c=rnd.choice(CITIES), n=rnd.choice(["мефедрона", "героина", "соли"]))
                         + ". Возбуждено уголовное дело, подозреваемый задержан. Ему грозит до 15 лет лишения"
                         " свободы, сообщает пресс-служба полиции.")
    return posts


def load_time() -> float:
    code = ("import time; t=time.perf_counter(); from pipelines.substances import SubstanceMatcher; "
            "from pipelines.text import clean; m=SubstanceMatcher.default(); clean('м е ф'); "
            "print(time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    return float(out.stdout.strip())


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    print(f"load (fresh process, imports + SubstanceMatcher.default() + clean's join words): "
          f"{load_time() * 1000:.0f} ms")
    matcher = SubstanceMatcher.default()
    posts = make_posts(n)
    avg = sum(map(len, posts)) / len(posts)
    print(f"{n} synthetic posts, {avg:.0f} characters on average ({min(map(len, posts))}-{max(map(len, posts))})")
    for p in posts[:200]:  # warm-up
        find_candidates(clean(p), matcher)
    best: dict[str, float] = {}
    for _ in range(3):
        t0 = time.perf_counter()
        cleaned = [clean(p) for p in posts]
        t1 = time.perf_counter()
        for c in cleaned:
            matcher.find(c, has_price_pairs=True)
        t2 = time.perf_counter()
        for c in cleaned:
            find_candidates(c, matcher)
        t3 = time.perf_counter()
        for name, dt in (("clean", t1 - t0), ("find", t2 - t1), ("candidates", t3 - t2), ("total", t3 - t0)):
            best[name] = min(best.get(name, dt), dt)
    for name, dt in best.items():
        print(f"{name:11s} {dt / n * 1e6:7.2f} µs/post  {n / dt:10,.0f} posts/s")
    mid = [p for p in posts if 130 <= len(p) <= 170]
    if mid:
        t0 = time.perf_counter()
        cleaned = [clean(p) for p in mid]
        t1 = time.perf_counter()
        for c in cleaned:
            matcher.find(c, has_price_pairs=True)
        t2 = time.perf_counter()
        print(f"posts of 130-170 characters ({len(mid)}): clean {(t1 - t0) / len(mid) * 1e6:.2f} µs, "
              f"find {(t2 - t1) / len(mid) * 1e6:.2f} µs")
    hits = sum(bool(matcher.find(clean(p), has_price_pairs=True)) for p in posts)
    print(f"posts with at least one substance: {hits}/{n}")


if __name__ == "__main__":
    main()
