// Entry of the customer app (/app/).
import { render } from "preact";
import "../shared/style.css";
import "./app.css";
import { App } from "./App";

const root = document.getElementById("root");
if (root) render(<App />, root);
