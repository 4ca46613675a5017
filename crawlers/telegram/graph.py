"""The forward/mention network as GEXF 1.3 (Gephi's native format), written with the standard library.

Nodes are channels (watched sources and discovered ones), edges point from the channel whose posts forward
or link to the channel they forward from or link to, weighted by the number of such posts; channels that posted
the same ads or the same pictures (a shop network) are joined by edges weighted by how many they share.

>>> import io
>>> buf = io.BytesIO()
>>> write_gexf({"synthetic_channel_01": {"label": "Synthetic Channel 01", "status": "source"},
...             "synthetic_shop_02": {"label": "synthetic_shop_02", "status": "new", "subscribers": 1200}},
...            [{"src": "synthetic_channel_01", "dst": "synthetic_shop_02", "weight": 3, "forwards": 2, "links": 1}],
...            buf, watched={"synthetic_channel_01"})
(2, 1)
>>> b'source="synthetic_channel_01" target="synthetic_shop_02" weight="3"' in buf.getvalue()
True
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

NS = "http://gexf.net/1.3"
_NODE_ATTRS = (("status", "string"), ("subscribers", "integer"), ("first_seen", "string"), ("watched", "boolean"))
_EDGE_ATTRS = (("forwards", "integer"), ("links", "integer"), ("shared_ads", "integer"), ("shared_images", "integer"))


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return str(v)


def write_gexf(nodes: Mapping[str, Mapping[str, Any]], edges: Iterable[Mapping[str, Any]], out: str | Path | IO[bytes],
               *, watched: set[str] = frozenset()) -> tuple[int, int]:
    """Write the graph; returns (nodes, edges) written."""
    ET.register_namespace("", NS)
    root = ET.Element(f"{{{NS}}}gexf", {"version": "1.3"})
    meta = ET.SubElement(root, f"{{{NS}}}meta", {"lastmodifieddate": date.today().isoformat()})
    ET.SubElement(meta, f"{{{NS}}}creator").text = "npswatch"
    ET.SubElement(meta, f"{{{NS}}}description").text = "Telegram channels: forwards and t.me links between them, and ads and pictures they both posted"
    graph = ET.SubElement(root, f"{{{NS}}}graph", {"mode": "static", "defaultedgetype": "directed"})
    for cls, attrs in (("node", _NODE_ATTRS), ("edge", _EDGE_ATTRS)):
        el = ET.SubElement(graph, f"{{{NS}}}attributes", {"class": cls})
        for i, (title, typ) in enumerate(attrs):
            ET.SubElement(el, f"{{{NS}}}attribute", {"id": str(i), "title": title, "type": typ})
    nodes_el = ET.SubElement(graph, f"{{{NS}}}nodes")
    for key, info in nodes.items():
        n = ET.SubElement(nodes_el, f"{{{NS}}}node", {"id": key, "label": str(info.get("label") or key)})
        vals = ET.SubElement(n, f"{{{NS}}}attvalues")
        row = dict(info) | {"watched": key in watched}
        for i, (title, _t) in enumerate(_NODE_ATTRS):
            if row.get(title) is not None:
                ET.SubElement(vals, f"{{{NS}}}attvalue", {"for": str(i), "value": _value(row[title])})
    edges_el = ET.SubElement(graph, f"{{{NS}}}edges")
    n_edges = 0
    for n_edges, e in enumerate(edges, 1):
        el = ET.SubElement(edges_el, f"{{{NS}}}edge", {"id": str(n_edges - 1), "source": e["src"], "target": e["dst"],
                                                     "weight": str(e.get("weight", 1))})
        vals = ET.SubElement(el, f"{{{NS}}}attvalues")
        for i, (title, _t) in enumerate(_EDGE_ATTRS):
            ET.SubElement(vals, f"{{{NS}}}attvalue", {"for": str(i), "value": str(int(e.get(title) or 0))})
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(out, encoding="UTF-8", xml_declaration=True)
    return len(nodes), n_edges
