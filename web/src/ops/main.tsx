// The operations console (운영 콘솔), served at /ops/.
import { render } from "preact";
import "../shared/style.css";
import "./app.css";
import { App } from "./App";

render(<App />, document.getElementById("root")!);
