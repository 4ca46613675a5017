"""The interface in English and Russian: `translator(lang)` turns an English interface string (the key) into the
language's; a string missing from a language stays English. Substance classes and signal kinds are translated
too (`cls_name`, `kind_name`). The language is the account's (`npswatch web user add --language ru`); before
logging in, the browser's Accept-Language decides."""
from __future__ import annotations

LANGUAGES = ("en", "ru")

RU = {
    "Log in": "Войти", "Log out": "Выйти", "Name": "Имя", "Password": "Пароль",
    "Signals": "Сигналы", "Review queue": "Очередь проверки", "Substances": "Вещества",
    "Sources and health": "Источники и состояние", "Audit log": "Журнал изменений",
    "Kind": "Тип", "Class": "Класс", "Country": "Страна", "From": "С", "To": "По", "Status": "Статус",
    "all": "все", "any": "любой", "Filter": "Показать", "Show": "Показать", "Save": "Сохранить",
    "{first}–{last} of {total}": "{first}–{last} из {total}", "Previous page": "Предыдущая страница",
    "Next page": "Следующая страница", "pages": "страницы",
    "signals: {n}": "сигналов: {n}", "candidates: {n}": "кандидатов: {n}", "rows: {n}": "строк: {n}",
    "period": "период", "first seen": "впервые", "last seen": "последний раз",
    "{posts} posts from {sources} sources": "{posts} постов из {sources} источников",
    "distinct ads": "отдельных объявлений", "Cities": "Города", "Note": "Заметка", "note": "заметка",
    "set by {who} on {when}": "установил(а) {who}, {when}",
    "No signals match. Signals are found by": "Сигналов нет. Сигналы находят команды",
    "new": "новый", "reviewed": "просмотрен", "escalated": "передан выше", "dismissed": "отклонён",
    "confirmed": "подтверждён",
    "new names": "новые названия", "slang": "сленг", "new name": "новое название",
    "Posts": "Посты", "First seen": "Впервые", "Last seen": "Последний раз", "Examples": "Примеры",
    "Review": "Решение", "Confirm": "Подтвердить", "Dismiss": "Отклонить",
    "class of the canonical": "класс известного вещества", "alias of (optional)": "синоним (необязательно)",
    "No candidates.": "Кандидатов нет.",
    "Substance or class: price and mentions": "Вещество или класс: цены и упоминания",
    "Substance": "Вещество", "By": "По", "Group": "Группа", "week": "неделям", "month": "месяцам",
    "Download this table as CSV": "Скачать таблицу в CSV",
    "healthy": "всё в порядке", "problem(s)": "проблем(ы)", "Scheduler": "Планировщик",
    "running": "работает", "not running on this database": "не запущен для этой базы",
    "checked": "проверено", "the same as": "то же, что", "Sources": "Источники", "Jobs": "Задания",
    "Source": "Источник", "Kinds": "Виды", "Last run": "Последний запуск", "Failures in a row": "Сбоев подряд",
    "Items, last run": "Записей за запуск", "Last success": "Последний успех", "Newest post": "Новейший пост",
    "Stale": "Устарел", "Last message": "Сообщение", "stale": "устарел", "no": "нет",
    "No collection runs yet.": "Сбора ещё не было.", "Job": "Задание", "Schedule": "Расписание",
    "Next run": "Следующий запуск", "Items": "Записей", "(by hand)": "(вручную)",
    "No jobs scheduled": "Заданий нет", "When": "Когда", "Who": "Кто", "What": "Что", "On": "Объект",
    "Detail": "Подробности", "Refused": "Отказано", "Back to the signals": "К сигналам",
    "Wrong name or password.": "Неверное имя или пароль.",
    "Too many failed logins: try again in {s} s.": "Слишком много неудачных попыток: повторите через {s} с.",
    "The form's security token is missing or stale: reload the page.":
        "У формы нет действующего токена безопасности: обновите страницу.",
    "Not logged in.": "Вход не выполнен.",
    "This needs the {role} role; you are a {have}.": "Нужна роль {role}; у вас роль {have}.",
    "Give a substance or a class.": "Укажите вещество или класс.",
    "Discovered Telegram channels": "Найденные каналы Telegram",
    "Seen in forwards and t.me links of the watched channels, most mentioned first (npswatch telegram discovered).":
        "Встречались в пересылках и ссылках t.me отслеживаемых каналов, по числу упоминаний (npswatch telegram "
        "discovered).",
    "Channel": "Канал", "Title": "Название", "Subscribers": "Подписчики", "Mentions": "Упоминания",
    "Channels": "Каналы", "First seen in": "Где впервые", "Watch it": "Отслеживать",
    "No channels discovered yet.": "Каналов пока не найдено.",
    "New posts per week (last 4)": "Новых постов в неделю (4 последние)",
    "Map": "Карта", "Map: cities with activity": "Карта: города с активностью", "Frame": "Область",
    "auto": "авто", "central_asia": "Центральная Азия", "europe": "Восточная Европа и Кавказ",
    "caucasus": "Кавказ", "china": "Китай",
    "Unit": "Единица", "per g": "за грамм", "per piece": "за штуку", "per ml": "за мл",
    "Quantity": "Количество", "all sizes": "любое", "retail": "розница", "middle": "средний опт",
    "wholesale": "опт", "Currency": "Валюта", "local": "местная", "city": "город", "country": "страна",
    "none": "всё вместе", "in": "в", "places: {n}": "мест: {n}", "sources: {n}": "источников: {n}",
    "Price per {unit}: median and interquartile range": "Цена за {unit}: медиана и межквартильный размах",
    "Hover for values, drag to zoom, double-click to zoom out, click a legend entry to hide or show it.":
        "Наведите курсор, чтобы увидеть значения; выделите мышью, чтобы приблизить; двойной щелчок отдаляет; "
        "щелчок по легенде скрывает или показывает ряд.",
    "No priced offers per {unit} in this scope.": "Нет предложений с ценой за {unit} в этой выборке.",
    "Posts and distinct ads per {by}": "Посты и отдельные объявления по {by}",
    "posts": "посты", "Where and since when": "Где и с каких пор", "Where seen": "Где встречалось",
    "Open on the map page": "Открыть на карте", "Latest posts": "Последние посты",
    "Texts as stored: handles, phones and links to people were pseudonymised when written.":
        "Тексты как хранятся: имена пользователей, телефоны и ссылки на людей заменены псевдонимами при записи.",
    "place": "место", "sources": "источники",
    "offers": "предложения", "source": "источник", "kind": "вид", "seen": "когда", "places": "места",
    "substances": "вещества", "text": "текст",
    "Circles: cities, their area in proportion to distinct ads (reposts of one ad count once). Hover a city for "
    "its figures.": "Круги: города, площадь пропорциональна числу отдельных объявлений (репосты одного объявления "
                    "считаются один раз). Наведите курсор на город, чтобы увидеть цифры.",
    "Boundaries: Natural Earth 1:50m (public domain), drawn on the server; nothing is loaded from elsewhere.":
        "Границы: Natural Earth 1:50m (общественное достояние), рисуются на сервере; ничего не загружается извне.",
    "Substance page": "Страница вещества", "{n} distinct ads": "{n} отдельных объявлений",
    "Search": "Поиск", "Words": "Слова", "web": "сайты", "telegram": "Telegram", "export": "экспорты Telegram",
    "Every word must occur; Russian words also match their other forms. Texts are shown as stored: pseudonymised.":
        "Должны встретиться все слова; русские слова находятся и в других формах. Тексты показаны как хранятся: "
        "с псевдонимами.",
    "Discovered web shops": "Найденные веб-магазины",
    "Sites that crawled pages and stored posts link to or name, most mentioned first (npswatch sources discovered). "
    "Adding one writes a disabled definition stub to finish with npswatch sources test.":
        "Сайты, на которые ссылаются собранные страницы и посты, по числу упоминаний (npswatch sources discovered). "
        "Добавление пишет выключенную заготовку описания сайта; доделайте её с npswatch sources test.",
    "Site": "Сайт", "Add it": "Добавить", "No web shops discovered yet.": "Веб-магазинов пока не найдено.",
    "{n} posts match": "найдено постов: {n}",
    "more than {n} posts match": "найдено постов: больше {n}",
    "(the newest {n} ranked: narrow the search to see older ones)":
        "(упорядочены новейшие {n}: сузьте поиск, чтобы увидеть более старые)", "open": "открыть", "More results": "Ещё результаты",
}

CLASSES_RU = {
    "synthetic_cathinone": "синтетический катинон", "synthetic_cannabinoid": "синтетический каннабиноид",
    "cannabis": "каннабис", "opioid": "опиоид", "stimulant": "стимулятор", "hallucinogen": "галлюциноген",
    "dissociative": "диссоциатив", "sedative": "седатив", "other": "другое",
}
KINDS_RU = {
    "new_substance": "Новые вещества", "new_in_region": "Известные вещества в новых местах",
    "spike": "Всплески упоминаний", "price_shift": "Сдвиги цен", "sales": "Продажи по убыли остатков",
}


def translator(lang: str):
    table = RU if lang == "ru" else {}
    return lambda text: table.get(text, text)


def cls_name(cls: str, lang: str) -> str:
    return CLASSES_RU.get(cls, cls.replace("_", " ")) if lang == "ru" else cls.replace("_", " ")


def kind_name(kind: str, lang: str, english: dict) -> str:
    return KINDS_RU.get(kind, kind) if lang == "ru" else english.get(kind, kind)


def from_header(accept_language: str | None) -> str:
    """The first of our languages the browser lists (Accept-Language), else English."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"
