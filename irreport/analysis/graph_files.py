"""Streaming writers for the process graph's evidence files, GraphML and node-link JSON.

networkx builds a whole ElementTree, or a whole indented JSON text in pure Python, before it
writes a byte. Both writers here go node by node, so their cost and memory stay in
proportion to the graph.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape, quoteattr

import networkx as nx

from irreport.textsafe import json_ready

# Python type of a value to its GraphML attr.type, as networkx's reader expects it.
_GRAPHML_TYPES = {bool: "boolean", int: "long", float: "double", str: "string"}
# Characters XML 1.0 cannot carry even escaped; they become U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_HEADER = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
    'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
)


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(_NOT_XML.sub("\ufffd", str(value)))


def _attribute_keys(items) -> dict[str, tuple[str, str]]:
    """Return attribute name -> (key id, GraphML type), typed by the first value seen."""
    keys: dict[str, tuple[str, str]] = {}
    for attributes in items:
        for name, value in attributes.items():
            if name not in keys and type(value) in _GRAPHML_TYPES:
                keys[name] = ("", _GRAPHML_TYPES[type(value)])
    return keys


def write_graphml(graph: nx.DiGraph, path: Path, graph_attributes: dict[str, Any]) -> None:
    """Write *graph* as GraphML with its scalar node attributes and *graph_attributes*.

    Values of other types are left out, as networkx's writer cannot carry them either.
    """
    graph_keys = _attribute_keys([graph_attributes])
    node_keys = _attribute_keys(attributes for _, attributes in graph.nodes(data=True))
    numbered: dict[tuple[str, str], str] = {}
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write(_HEADER)
        for scope, keys in (("graph", graph_keys), ("node", node_keys)):
            for name, (_, kind) in keys.items():
                key_id = f"d{len(numbered)}"
                numbered[(scope, name)] = key_id
                out.write(f'  <key id="{key_id}" for="{scope}" attr.name={quoteattr(name)} '
                          f'attr.type="{kind}" />\n')
        out.write('  <graph edgedefault="directed">\n')
        _write_data(out, graph_attributes, graph_keys, numbered, "graph", "    ")
        for node, attributes in graph.nodes(data=True):
            out.write(f"    <node id={quoteattr(_NOT_XML.sub(chr(0xFFFD), str(node)))}>\n")
            _write_data(out, attributes, node_keys, numbered, "node", "      ")
            out.write("    </node>\n")
        for source, target in graph.edges():
            out.write(f"    <edge source={quoteattr(_NOT_XML.sub(chr(0xFFFD), str(source)))} "
                      f"target={quoteattr(_NOT_XML.sub(chr(0xFFFD), str(target)))} />\n")
        out.write("  </graph>\n</graphml>\n")


def _write_data(out: TextIO, attributes: dict[str, Any], keys: dict[str, tuple[str, str]],
                numbered: dict[tuple[str, str], str], scope: str, indent: str) -> None:
    for name, value in attributes.items():
        if name in keys and type(value) in _GRAPHML_TYPES:
            out.write(f'{indent}<data key="{numbered[(scope, name)]}">{_xml_text(value)}</data>\n')


def write_node_link_json(graph: nx.DiGraph, path: Path) -> None:
    """Write *graph* as networkx's node-link JSON, one node or edge per line.

    The document parses to what `json_ready(nx.node_link_data(graph, edges="edges"))` returns.
    """
    with path.open("w", encoding="utf-8") as out:
        out.write('{\n "directed": true,\n "multigraph": false,\n "graph": ')
        out.write(json.dumps(json_ready(graph.graph), ensure_ascii=False))
        out.write(',\n "nodes": [')
        separator = "\n  "
        for node, attributes in graph.nodes(data=True):
            out.write(separator + json.dumps(json_ready({**attributes, "id": node}),
                                             ensure_ascii=False))
            separator = ",\n  "
        out.write("\n ],\n \"edges\": [" if graph.number_of_nodes() else "],\n \"edges\": [")
        separator = "\n  "
        for source, target in graph.edges():
            out.write(separator + json.dumps(json_ready({"source": source, "target": target}),
                                             ensure_ascii=False))
            separator = ",\n  "
        out.write("\n ]\n}" if graph.number_of_edges() else "]\n}")
