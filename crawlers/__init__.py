"""Collectors: the Scrapy project (generic spider, site definitions), the fixture market, and Telegram.

Everything here produces `pipelines.rawpost.RawPost` items and hands them to storage.
"""
