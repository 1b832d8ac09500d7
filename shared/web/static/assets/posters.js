// posters.js
import { el } from "./gc.js";
