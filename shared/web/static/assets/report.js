// report.js
import { el } from "./gc.js";
