// group.js
import { el } from "./gc.js";
