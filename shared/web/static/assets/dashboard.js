// dashboard.js
import { el } from "./gc.js";
