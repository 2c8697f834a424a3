// Sphinx's search page shows a text summary under each result. For a result that points at an index entry (the
// site's API index, genindex.html) the anchored element is empty, makeSearchSummary returns null and appending it
// throws a TypeError: give such a result an empty summary instead.
if (typeof Search !== "undefined" && typeof Search.makeSearchSummary === "function") {
  const makeSearchSummary = Search.makeSearchSummary;
  Search.makeSearchSummary = (...args) => makeSearchSummary(...args) || document.createElement("p");
}
